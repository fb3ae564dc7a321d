// The r2d2 filter in a real Envoy 1.40 in front of the demo r2d2 backend: allowed requests reach
// the backend, denied ones never do and the client gets ERROR at their place among replies, byte
// by byte writes behave like whole lines, and an over-long line closes the connection with the
// reason logged while Envoy stays up.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startR2d2Backend, type R2d2Backend } from '../../../../demo/backends/r2d2-backend.ts';
import { buildFilters, filterWasm, startWasmEnvoy, type WasmEnvoy } from '../../envoy-harness.ts';
import { connectLineClient } from '../../line-client.ts';

describe('r2d2 filter in Envoy, default rule (deny lines containing C-3PO)', () => {
  let backend: R2d2Backend;
  let envoy: WasmEnvoy;

  beforeAll(async () => {
    buildFilters('r2d2');
    backend = await startR2d2Backend();
    envoy = await startWasmEnvoy({
      wasmFile: filterWasm('r2d2'),
      rootId: 'r2d2',
      configuration: JSON.stringify({ parser: 'r2d2', maxBufferBytes: 1048576 }),
      backendPort: backend.port,
    });
  }, 600_000);

  afterAll(async () => {
    await envoy?.stop();
    await backend?.close();
  });

  it('answers an allowed READ through the backend and logs it as a Request', async () => {
    const client = await connectLineClient(envoy.listenerPort);
    await client.send('READ sloop\r\n');
    expect(await client.waitForLines(1)).toEqual(['OK sloop written 0 times']);
    client.close();
    expect(backend.received).toContain('READ sloop');
    await envoy.waitForLog(/weir-accesslog \{"type":"Request","proto":"r2d2".*"fields":\{"cmd":"READ","file":"sloop"\}/);
  });

  it('denies WRITE C-3PO with ERROR, never forwards it, and keeps the connection usable', async () => {
    const client = await connectLineClient(envoy.listenerPort);
    await client.send('WRITE C-3PO\r\n');
    expect(await client.waitForLines(1)).toEqual(['ERROR']);
    await client.send('READ sloop\r\n');
    expect(await client.waitForLines(2)).toEqual(['ERROR', 'OK sloop written 0 times']);
    client.close();
    expect(backend.received.some((line) => line.includes('C-3PO'))).toBe(false);
    const denied = envoy.accessLogEntries().filter((entry) => entry.type === 'Denied');
    expect(denied.at(-1)).toMatchObject({ proto: 'r2d2', fields: { cmd: 'WRITE', file: 'C-3PO' } });
    expect(denied.at(-1)?.reason).toContain('C-3PO');
  });

  it('puts the deny reply at the denied request position among pipelined replies', async () => {
    const client = await connectLineClient(envoy.listenerPort);
    await client.send('WRITE sloop\r\nREAD C-3PO\r\nREAD sloop\r\nHALT\r\n');
    expect(await client.waitForLines(4)).toEqual(['OK wrote sloop', 'ERROR', 'OK sloop written 1 times', 'OK halted']);
    client.close();
    expect(backend.received.includes('READ C-3PO')).toBe(false);
  });

  it('behaves the same when the client writes one byte at a time', async () => {
    const client = await connectLineClient(envoy.listenerPort);
    await client.send('READ wing\r\nWRITE C-3PO\r\nREAD wing\r\n', { byteByByte: true });
    expect(await client.waitForLines(3)).toEqual(['OK wing written 0 times', 'ERROR', 'OK wing written 0 times']);
    client.close();
    expect(backend.received.some((line) => line.includes('C-3PO'))).toBe(false);
  });

  it('closes a connection whose line exceeds 1 MiB, forwards none of it, logs why, and keeps serving', async () => {
    const before = backend.received.length;
    const client = await connectLineClient(envoy.listenerPort);
    await client.send('READ ' + 'x'.repeat(1024 * 1024 + 16));
    await client.waitForClose(10000);
    expect(backend.received.length).toBe(before);
    await envoy.waitForLog(/weir-accesslog \{"type":"Error","proto":"r2d2".*exceeds maxBufferBytes \(1048576 bytes\)/);
    const next = await connectLineClient(envoy.listenerPort);
    await next.send('HALT\r\n');
    expect(await next.waitForLines(1)).toEqual(['OK halted']);
    next.close();
  }, 20000);
});

describe('r2d2 filter in Envoy, configured rules', () => {
  let backend: R2d2Backend;
  let envoy: WasmEnvoy;

  beforeAll(async () => {
    buildFilters('r2d2');
    backend = await startR2d2Backend();
    envoy = await startWasmEnvoy({
      wasmFile: filterWasm('r2d2'),
      rootId: 'r2d2',
      configuration: JSON.stringify({ parser: 'r2d2', rules: [{ cmd: 'READ' }, { cmd: 'HALT' }] }),
      backendPort: backend.port,
    });
  }, 600_000);

  afterAll(async () => {
    await envoy?.stop();
    await backend?.close();
  });

  it('forwards what the rules allow and answers ERROR for the rest, in order', async () => {
    const client = await connectLineClient(envoy.listenerPort);
    await client.send('READ x\r\nWRITE x\r\nHALT\r\n');
    expect(await client.waitForLines(3)).toEqual(['OK x written 0 times', 'ERROR', 'OK halted']);
    client.close();
    expect(backend.received).toEqual(['READ x', 'HALT']);
    await envoy.waitForLog(/weir-accesslog \{"type":"Denied".*"reason":"no rule allows this request"/);
  });
});
