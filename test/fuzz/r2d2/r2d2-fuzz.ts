// r2d2 for the fuzz framework: the server model is the reading of Weir's reference backend
// (demo/backends/r2d2-backend.ts: a request is the bytes up to the first "\r\n", words split on
// single spaces, `file` only in a two-word line), the grammar makes lines around every command,
// case, spacing and terminator variant, and the fake server is that backend's own answer().
import { answer } from '../../../demo/backends/r2d2-backend.ts';
import type { FakeUpstream } from '../../../server/wasm-host/index.ts';
import { concat } from '../framework/mutate.ts';
import type { Prng } from '../framework/prng.ts';
import type { FuzzPolicy, FuzzProtocol, ModelFrame, ServerModel, StreamReading } from '../framework/protocol.ts';
import { buildReferencePolicy, type FuzzClient } from '../framework/reference-policy.ts';

// The filter's buffer cap (maxBufferBytes default): a longer line is refused, not framed.
const MAX_LINE = 1024 * 1024;

export const r2d2Model: ServerModel = {
  read(stream: Uint8Array): StreamReading {
    const frames: ModelFrame[] = [];
    let start = 0;
    for (;;) {
      const end = lineEnd(stream, start);
      if (end < 0) break;
      const line = Buffer.from(stream.subarray(start, end)).toString('latin1');
      const words = line.split(' ');
      const cmd = words[0] ?? '';
      const request = words.length === 2 ? { cmd, file: words[1] ?? '' } : { cmd };
      frames.push({ start, end: end + 2, request, label: JSON.stringify(line.slice(0, 80)), filterClose: end - start > MAX_LINE ? 'may' : 'never', serverStops: false, isProbe: end === start });
      start = end + 2;
    }
    return { frames, incompleteTail: stream.length - start };
  },
};

function lineEnd(stream: Uint8Array, from: number): number {
  for (let i = from; i + 1 < stream.length; i++) if (stream[i] === 0x0d && stream[i + 1] === 0x0a) return i;
  return -1;
}

const CLIENTS: readonly FuzzClient[] = [
  { app: 'droid-reader', ip: '10.77.0.2' },
  { app: 'droid-writer', ip: '10.77.0.3' },
  { app: 'droid-stranger', ip: '10.77.0.4' },
];

const POLICIES: readonly FuzzPolicy[] = [
  {
    clients: CLIENTS,
    reference: buildReferencePolicy({
      name: 'r2d2-mixed',
      l7proto: 'r2d2',
      clients: CLIENTS,
      ingressYaml: `    - fromEndpoints: [{ matchLabels: { app: droid-reader } }]
      toPorts: [{ ports: [{ port: "7000", protocol: TCP }], rules: { l7proto: r2d2, l7: [{ cmd: READ }, { cmd: HALT }] } }]
    - fromEndpoints: [{ matchLabels: { app: droid-writer } }]
      toPorts: [{ ports: [{ port: "7000", protocol: TCP }], rules: { l7proto: r2d2, l7: [{ cmd: WRITE, file: "^public/" }, { file: "\\\\.log$" }, { cmd: READ, file: "^(public|logs)/[a-z]+$" }] } }]
`,
    }),
  },
];

const COMMANDS = ['READ', 'WRITE', 'HALT', 'RESET', 'read', 'Read', 'READX', 'C-3PO', '', 'WRITE\t', ' READ'];
const FILES = ['public/a', 'public/', 'logs/x', 'logs/X', 'secret', 'a.log', '.log', '', 'C-3PO', 'public/a b', 'pub\u0000lic/a', 'public/\r', 'public/\n', 'x\u00ff'];

function generate(prng: Prng): Uint8Array {
  const lines: string[] = [];
  const count = prng.between(1, 40);
  for (let i = 0; i < count; i++) {
    const cmd = prng.pick(COMMANDS);
    const separator = prng.weighted([[8, ' '], [1, '  '], [1, '\t'], [1, '']]);
    const words = prng.chance(0.8) ? [cmd, prng.pick(FILES)] : prng.chance(0.5) ? [cmd] : [cmd, prng.pick(FILES), prng.pick(FILES)];
    const terminator = prng.weighted([[12, '\r\n'], [1, '\n'], [1, '\r'], [1, '\r\r\n'], [1, '']]);
    lines.push(words.join(separator) + terminator);
  }
  return Buffer.from(lines.join(''), 'latin1');
}

const RECORDINGS: readonly Uint8Array[] = [
  // The demo's session (demo/r2d2/scenario.ts) and the guide's examples, as a client sends them.
  Buffer.from('READ sloop\r\nWRITE C-3PO\r\nREAD sloop\r\n', 'latin1'),
  Buffer.from('READ public/file\r\nWRITE public/file\r\nHALT\r\nRESET\r\n', 'latin1'),
];

const DICTIONARY: readonly Uint8Array[] = ['READ', 'WRITE', 'HALT', 'RESET', 'C-3PO', ' ', '\r\n', '\r', '\n', 'public/', '.log', '\u0000'].map((word) => Buffer.from(word, 'latin1'));

function fakeServer(): FakeUpstream {
  const files = new Map<string, number>();
  let pending: Uint8Array = new Uint8Array(0);
  return {
    onData(bytes, peer) {
      pending = concat([pending, bytes]);
      for (let end = lineEnd(pending, 0); end >= 0; end = lineEnd(pending, 0)) {
        peer.send(answer(Buffer.from(pending.subarray(0, end)).toString('latin1'), files));
        pending = pending.slice(end + 2);
      }
    },
  };
}

export const r2d2Fuzz: FuzzProtocol = {
  name: 'r2d2',
  model: r2d2Model,
  policies: POLICIES,
  generate,
  recordings: () => RECORDINGS,
  dictionary: DICTIONARY,
  fakeServer,
};
