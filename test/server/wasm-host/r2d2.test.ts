// The real r2d2 parser (build/filters/r2d2.wasm) in the test host, answered by the demo backend's own
// reply function: allowed lines reach the server, a denied line never does and the client gets ERROR
// in its place (through the probe substitution), byte-by-byte and every split point behave like whole
// lines, and a 1 MiB line without an end closes the connection with the reason logged.
import { existsSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { beforeAll, describe, expect, it } from 'vitest';
import { answer } from '../../../demo/backends/r2d2-backend.ts';
import { everySplit, lineResponder, loadFilter, type FilterVm } from '../../../server/wasm-host/index.ts';

const wasmPath = new URL('../../../build/filters/r2d2.wasm', import.meta.url).pathname;

function r2d2Filter(): FilterVm {
  return loadFilter({
    wasm: wasmPath,
    rootId: 'r2d2',
    pluginName: 'r2d2-test',
    pluginConfig: JSON.stringify({ parser: 'r2d2', maxBufferBytes: 1048576 }),
    failurePolicy: 'FAIL_RELOAD',
  });
}

function r2d2Backend(): ReturnType<typeof lineResponder> {
  const files = new Map<string, number>();
  return lineResponder((line) => answer(line, files));
}

describe('r2d2.wasm in the test host', () => {
  beforeAll(() => {
    if (!existsSync(wasmPath)) execFileSync('npm', ['run', 'build:filters'], { stdio: 'inherit' });
  }, 120000);

  it('forwards READ sloop and returns the server reply', () => {
    const backend = r2d2Backend();
    const connection = r2d2Filter().openConnection({ upstream: backend });
    connection.fromClient('READ sloop\r\n');
    expect(connection.upstreamText).toBe('READ sloop\r\n');
    expect(connection.clientText).toBe('OK sloop written 0 times\r\n');
    expect(connection.isOpen).toBe(true);
  });

  it('keeps WRITE C-3PO from the server and answers ERROR through the probe', () => {
    const backend = r2d2Backend();
    const filter = r2d2Filter();
    const connection = filter.openConnection({ upstream: backend });
    connection.fromClient('WRITE C-3PO\r\n');
    expect(backend.lines.some((line) => line.includes('C-3PO'))).toBe(false);
    expect(backend.lines).toEqual(['']); // the probe: an empty line the server answers with ERROR
    expect(connection.clientText).toBe('ERROR\r\n');
    expect(connection.isOpen).toBe(true);
    expect(filter.traps).toEqual([]);
    connection.fromClient('READ sloop\r\n');
    expect(connection.clientText).toBe('ERROR\r\nOK sloop written 0 times\r\n');
  });

  it('gives the same replies when the client writes one byte at a time', () => {
    const backend = r2d2Backend();
    const connection = r2d2Filter().openConnection({ upstream: backend });
    connection.fromClient('READ sloop\r\nWRITE C-3PO\r\nREAD sloop\r\n', { chunking: 'per-byte' });
    expect(connection.clientText).toBe('OK sloop written 0 times\r\nERROR\r\nOK sloop written 0 times\r\n');
    expect(backend.lines.filter((line) => line.includes('C-3PO'))).toEqual([]);
    expect(backend.lines.filter((line) => line === 'READ sloop')).toHaveLength(2);
  });

  it('gives the same replies at every split point of a pipelined script', () => {
    const script = 'READ sloop\r\nWRITE C-3PO\r\nHALT\r\n';
    for (const chunking of everySplit(script)) {
      const backend = r2d2Backend();
      const connection = r2d2Filter().openConnection({ upstream: backend });
      connection.fromClient(script, { chunking, pacing: 'burst' });
      expect({ chunking, reply: connection.clientText }).toEqual({
        chunking,
        reply: 'OK sloop written 0 times\r\nERROR\r\nOK halted\r\n',
      });
      expect(backend.lines.some((line) => line.includes('C-3PO'))).toBe(false);
    }
  });

  it('closes a connection whose line grows past 1 MiB, forwards nothing and logs why', () => {
    const backend = r2d2Backend();
    const filter = r2d2Filter();
    const connection = filter.openConnection({ upstream: backend });
    const line = 'READ ' + 'x'.repeat(1024 * 1024 + 16);
    connection.fromClient(line, { chunking: { sizes: Array.from({ length: 17 }, () => 65536) } });
    expect(connection.isOpen).toBe(false);
    expect(connection.closed?.reason).toBe('wasm_downstream_close');
    expect(connection.upstreamBytes.length).toBe(0);
    expect(backend.lines).toEqual([]);
    expect(connection.logs.some((log) => log.message.includes('exceeds maxBufferBytes'))).toBe(true);
    expect(filter.traps).toEqual([]);
  });
});
