// A small in-process memcached for the Wasm test host: enough of the text, meta and binary
// protocols (get/gets/gat, storage commands with data blocks, delete, incr, touch, version, stats,
// mg/ms/md/mn with the `v`, `q`, `k`, `O`, `b` flags, and binary get/getq/getk/getkq/set/setq/
// delete/noop/version) to answer the way memcached 1.6 does, in order, byte-exact. It records
// every request it parsed, so tests can prove what reached the server.
import type { FakeUpstream, UpstreamPeer } from '../../../../server/wasm-host/index.ts';

export interface FakeMemcached extends FakeUpstream {
  readonly store: Map<string, Buffer>;
  /** Text request lines (without CRLF) or binary opcode names, in arrival order. */
  readonly requests: string[];
}

export const FAKE_VERSION = '1.6.18';

export function fakeMemcached(initial: Record<string, string> = {}): FakeMemcached {
  const store = new Map<string, Buffer>(Object.entries(initial).map(([key, value]) => [key, Buffer.from(value, 'latin1')]));
  const requests: string[] = [];
  let pending = Buffer.alloc(0);
  return {
    store,
    requests,
    onData(bytes, peer) {
      pending = Buffer.concat([pending, Buffer.from(bytes)]);
      for (;;) {
        const used = pending.length > 0 && pending[0] === 0x80 ? answerBinary(pending, store, requests, peer) : answerText(pending, store, requests, peer);
        if (used === 0) return;
        pending = pending.subarray(used);
      }
    },
  };
}

// Answers one text request; returns the bytes it used, 0 when it is incomplete.
function answerText(input: Buffer, store: Map<string, Buffer>, requests: string[], peer: UpstreamPeer): number {
  const lf = input.indexOf(0x0a);
  if (lf < 0) return 0;
  const line = input.subarray(0, lf > 0 && input[lf - 1] === 0x0d ? lf - 1 : lf).toString('latin1');
  const tokens = line.split(' ').filter((token) => token !== '');
  const [command = '', ...args] = tokens;
  const noreply = args[args.length - 1] === 'noreply';
  const reply = (text: string): void => {
    if (!noreply) peer.send(text);
  };
  if (['set', 'add', 'replace', 'append', 'prepend', 'cas'].includes(command) || command === 'ms') {
    const size = Number(command === 'ms' ? args[1] : args[3]);
    const end = lf + 1 + size + 2;
    if (input.length < end) return 0;
    requests.push(line);
    const value = input.subarray(lf + 1, lf + 1 + size);
    const key = args[0] ?? '';
    if (command === 'ms') {
      store.set(key, Buffer.from(value));
      if (!args.slice(2).includes('q')) peer.send('HD\r\n');
      return end;
    }
    const exists = store.has(key);
    if ((command === 'add' && exists) || ((command === 'replace' || command === 'append' || command === 'prepend') && !exists)) {
      reply('NOT_STORED\r\n');
      return end;
    }
    const old = store.get(key) ?? Buffer.alloc(0);
    store.set(key, command === 'append' ? Buffer.concat([old, value]) : command === 'prepend' ? Buffer.concat([value, old]) : Buffer.from(value));
    reply('STORED\r\n');
    return end;
  }
  requests.push(line);
  if (command === 'get' || command === 'gets' || command === 'gat' || command === 'gats') {
    const keys = command.startsWith('gat') ? args.slice(1) : args;
    let text = '';
    for (const key of keys) {
      const value = store.get(key);
      if (value !== undefined) text += `VALUE ${key} 0 ${value.length}${command.endsWith('s') ? ' 1' : ''}\r\n${value.toString('latin1')}\r\n`;
    }
    peer.send(`${text}END\r\n`);
  } else if (command === 'delete') {
    reply(store.delete(args[0] ?? '') ? 'DELETED\r\n' : 'NOT_FOUND\r\n');
  } else if (command === 'incr' || command === 'decr') {
    const value = store.get(args[0] ?? '');
    if (value === undefined) reply('NOT_FOUND\r\n');
    else {
      const next = Math.max(0, Number(value.toString('latin1')) + (command === 'incr' ? 1 : -1) * Number(args[1]));
      store.set(args[0] ?? '', Buffer.from(String(next)));
      reply(`${next}\r\n`);
    }
  } else if (command === 'touch') {
    reply(store.has(args[0] ?? '') ? 'TOUCHED\r\n' : 'NOT_FOUND\r\n');
  } else if (command === 'version') {
    peer.send(`VERSION ${FAKE_VERSION}\r\n`);
  } else if (command === 'stats') {
    peer.send(`STAT pid 1\r\nSTAT version ${FAKE_VERSION}\r\nEND\r\n`);
  } else if (command === 'flush_all' || command === 'verbosity') {
    store.clear();
    reply('OK\r\n');
  } else if (command === 'mn') {
    peer.send('MN\r\n');
  } else if (command === 'mg' || command === 'md' || command === 'me') {
    answerMeta(command, args, store, peer);
  } else if (command === 'quit') {
    peer.end();
  } else {
    peer.send('ERROR\r\n');
  }
  return lf + 1;
}

function answerMeta(command: string, args: string[], store: Map<string, Buffer>, peer: UpstreamPeer): void {
  const flags = args.slice(1);
  const key = flags.includes('b') ? Buffer.from(args[0] ?? '', 'base64').toString('latin1') : (args[0] ?? '');
  const quiet = flags.includes('q');
  const returned = flags.filter((flag) => flag === 'k' || flag.startsWith('O')).map((flag) => (flag === 'k' ? ` k${args[0]}` : ` ${flag}`)).join('');
  const value = store.get(key);
  if (command === 'md') {
    if (value === undefined) peer.send(`NF${returned}\r\n`);
    else {
      store.delete(key);
      if (!quiet) peer.send(`HD${returned}\r\n`);
    }
    return;
  }
  if (command === 'me') {
    peer.send(value === undefined ? 'EN\r\n' : `ME ${key} exp=-1 la=1 cas=1 fetch=no cls=1 size=${value.length}\r\n`);
    return;
  }
  if (value === undefined) {
    if (!quiet) peer.send('EN\r\n');
  } else if (flags.includes('v')) peer.send(`VA ${value.length}${returned}\r\n${value.toString('latin1')}\r\n`);
  else if (!quiet) peer.send(`HD${returned}\r\n`);
}

const OPCODE_NAMES: Record<number, string> = { 0: 'get', 1: 'set', 4: 'delete', 9: 'getq', 10: 'noop', 11: 'version', 12: 'getk', 13: 'getkq', 17: 'setq', 20: 'deleteq' };

// Answers one binary request; returns the bytes it used, 0 when it is incomplete.
function answerBinary(input: Buffer, store: Map<string, Buffer>, requests: string[], peer: UpstreamPeer): number {
  if (input.length < 24) return 0;
  const bodyLength = input.readUInt32BE(8);
  if (input.length < 24 + bodyLength) return 0;
  const opcode = input[1] ?? 0;
  const keyLength = input.readUInt16BE(2);
  const extrasLength = input[4] ?? 0;
  const opaque = input.readUInt32BE(12);
  const key = input.subarray(24 + extrasLength, 24 + extrasLength + keyLength).toString('latin1');
  const value = input.subarray(24 + extrasLength + keyLength, 24 + bodyLength);
  const name = OPCODE_NAMES[opcode] ?? `opcode-${opcode}`;
  requests.push(keyLength > 0 ? `${name} ${key}` : name);
  const send = (status: number, options: { extras?: Buffer; key?: string; value?: Buffer } = {}): void => {
    peer.send(binaryReply(opcode, status, opaque, options));
  };
  if (opcode === 0 || opcode === 9 || opcode === 12 || opcode === 13) {
    const stored = store.get(key);
    const withKey = opcode === 12 || opcode === 13;
    if (stored !== undefined) send(0, { extras: Buffer.alloc(4), key: withKey ? key : undefined, value: stored });
    else if (opcode === 0 || opcode === 12) send(1, { key: withKey ? key : undefined, value: Buffer.from('Not found') });
  } else if (opcode === 1 || opcode === 17) {
    store.set(key, Buffer.from(value));
    if (opcode === 1) send(0);
  } else if (opcode === 4 || opcode === 20) {
    const existed = store.delete(key);
    if (!existed) send(1, { value: Buffer.from('Not found') });
    else if (opcode === 4) send(0);
  } else if (opcode === 10) {
    send(0);
  } else if (opcode === 11) {
    send(0, { value: Buffer.from(FAKE_VERSION) });
  } else {
    send(0x81, { value: Buffer.from('Unknown command') });
  }
  return 24 + bodyLength;
}

export function binaryReply(opcode: number, status: number, opaque: number, options: { extras?: Buffer; key?: string; value?: Buffer } = {}): Buffer {
  const extras = options.extras ?? Buffer.alloc(0);
  const key = Buffer.from(options.key ?? '', 'latin1');
  const value = options.value ?? Buffer.alloc(0);
  const header = Buffer.alloc(24);
  header[0] = 0x81;
  header[1] = opcode;
  header.writeUInt16BE(key.length, 2);
  header[4] = extras.length;
  header.writeUInt16BE(status, 6);
  header.writeUInt32BE(extras.length + key.length + value.length, 8);
  header.writeUInt32BE(opaque, 12);
  return Buffer.concat([header, extras, key, value]);
}

export function binaryRequest(opcode: number, options: { key?: string; extras?: Buffer; value?: Buffer; opaque?: number } = {}): Buffer {
  const extras = options.extras ?? Buffer.alloc(0);
  const key = Buffer.from(options.key ?? '', 'latin1');
  const value = options.value ?? Buffer.alloc(0);
  const header = Buffer.alloc(24);
  header[0] = 0x80;
  header[1] = opcode;
  header.writeUInt16BE(key.length, 2);
  header[4] = extras.length;
  header.writeUInt32BE(extras.length + key.length + value.length, 8);
  header.writeUInt32BE(options.opaque ?? 0, 12);
  return Buffer.concat([header, extras, key, value]);
}
