// Runs one hand-written filter in the real Envoy 1.40 and in the test host, through the same client
// scripts against an echo server, and requires the same outcome: what the server received, what the
// client received, whether the connection closed. It pins the host's semantics where they are least
// obvious: Pause keeps bytes (old+new), and proxy_close_stream drops the closing callback's bytes.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startWasmEnvoy, waitFor, type WasmEnvoy } from '../../filters/envoy-harness.ts';
import { echoUpstream, loadFilter } from '../../../server/wasm-host/index.ts';
import { watFilter } from './wat-filter.ts';

// First byte "P": pause until 8 bytes are buffered. First byte "Q": close DOWNSTREAM. A reply that
// starts with "Z": append "+tail" and close UPSTREAM.
const parityFilter = watFilter(`
  (data (i32.const 1024) "configured, parity fixture")
  (data (i32.const 1060) "+tail")
  (func $first_byte (param $type i32) (result i32)
    (i32.store (i32.const 12) (i32.const 0))
    (drop (call $get_buffer_bytes (local.get $type) (i32.const 0) (i32.const 1) (i32.const 8) (i32.const 12)))
    (if (result i32) (i32.eqz (i32.load (i32.const 12))) (then (i32.const 0)) (else (i32.load8_u (i32.load (i32.const 8))))))
  (func (export "proxy_on_configure") (param i32 i32) (result i32)
    (call $log_str (i32.const 2) (i32.const 1024) (i32.const 26))
    (i32.const 1))
  (func (export "proxy_on_downstream_data") (param $ctx i32) (param $size i32) (param $eos i32) (result i32) (local $first i32)
    (local.set $first (call $first_byte (i32.const 2)))
    (if (i32.eq (local.get $first) (i32.const 81)) (then (drop (call $close_stream (i32.const 2)))))
    (if (result i32) (i32.and (i32.eq (local.get $first) (i32.const 80)) (i32.lt_u (local.get $size) (i32.const 8)))
      (then (i32.const 1)) (else (i32.const 0))))
  (func (export "proxy_on_upstream_data") (param $ctx i32) (param $size i32) (param $eos i32) (result i32)
    (if (i32.eq (call $first_byte (i32.const 3)) (i32.const 90))
      (then
        (drop (call $set_buffer_bytes (i32.const 3) (local.get $size) (i32.const 0) (i32.const 1060) (i32.const 5)))
        (drop (call $close_stream (i32.const 3)))))
    (i32.const 0))
`);

interface Outcome {
  serverReceived: string;
  clientReceived: string;
  closed: boolean;
}

type Script = string[]; // client writes, each given time to take effect before the next

const scripts: Record<string, Script> = {
  'pause then continue': ['Pa', 'use!!!'],
  'close downstream after an echoed request': ['hello\n', 'Quit\n'],
  'close upstream while rewriting a reply': ['Zap\n'],
};

function runInHost(script: Script): Outcome {
  const filter = loadFilter({ wasm: parityFilter, rootId: 'parity' });
  const connection = filter.openConnection({ upstream: echoUpstream() });
  for (const write of script) connection.fromClient(write);
  return { serverReceived: connection.upstreamText, clientReceived: connection.clientText, closed: !connection.isOpen };
}

describe('test host and Envoy 1.40 agree', () => {
  let dir: string;
  let envoy: WasmEnvoy;
  let echo: net.Server;
  let serverReceived = '';

  beforeAll(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'weir-parity-'));
    const wasmFile = path.join(dir, 'parity.wasm');
    writeFileSync(wasmFile, parityFilter);
    echo = net.createServer((socket) => {
      socket.on('data', (bytes) => {
        serverReceived += bytes.toString('latin1');
        socket.write(bytes);
      });
      socket.on('error', () => socket.destroy());
    });
    await new Promise<void>((resolve) => echo.listen(0, '127.0.0.1', () => resolve()));
    const address = echo.address();
    if (address === null || typeof address === 'string') throw new Error('echo server: no TCP address');
    envoy = await startWasmEnvoy({ wasmFile, rootId: 'parity', configuration: '', backendPort: address.port });
  }, 30000);

  afterAll(async () => {
    await envoy?.stop();
    await new Promise<void>((resolve) => (echo ? echo.close(() => resolve()) : resolve()));
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  // Runs `script` through Envoy and returns what client and server saw once that equals `expected`
  // (the host's outcome), or, when it never does, what they saw after 10 s: the comparison then
  // fails with both. Waiting on the expected outcome instead of "wait a while, then look" keeps the
  // test green on a loaded machine without letting a late difference pass.
  async function runInEnvoy(script: Script, expected: Outcome): Promise<Outcome> {
    serverReceived = '';
    const socket = net.connect(envoy.listenerPort, '127.0.0.1');
    let clientReceived = '';
    let closed = false;
    socket.on('data', (bytes) => (clientReceived += bytes.toString('latin1')));
    socket.on('close', () => (closed = true));
    socket.on('error', () => (closed = true));
    await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
    for (const write of script) {
      socket.write(write);
      // Spaces the writes so that Envoy is likely to read them in separate callbacks; the outcome
      // must equal the host's however Envoy cuts them.
      await new Promise((resolve) => setTimeout(resolve, 150));
    }
    const seen = (): Outcome => ({ serverReceived, clientReceived, closed });
    const matches = (): boolean => JSON.stringify(seen()) === JSON.stringify(expected);
    await waitFor(matches, 10_000, 'the outcome the test host gives').catch(() => undefined);
    const outcome = seen();
    socket.destroy();
    return outcome;
  }

  for (const [name, script] of Object.entries(scripts)) {
    it(`${name}`, async () => {
      const inHost = runInHost(script);
      expect(await runInEnvoy(script, inHost)).toEqual(inHost);
    }, 30_000);
  }
});
