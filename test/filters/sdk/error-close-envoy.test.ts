// ERROR semantics in a real Envoy 1.40, where the bytes of the callback that calls
// proxy_close_stream are lost: a request forwarded just before an ERROR still reaches the server,
// its reply still reaches the client, and only then is the connection closed. Uses r2d2 (a line
// over maxBufferBytes is ERROR 4) in front of the demo r2d2 backend.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startR2d2Backend, type R2d2Backend } from '../../../demo/backends/r2d2-backend.ts';
import { buildFilters, filterWasm, startWasmEnvoy, waitFor, type WasmEnvoy } from '../envoy-harness.ts';
import { connectLineClient } from '../line-client.ts';

const MIB = 1024 * 1024;

describe('ERROR in Envoy: flush what was passed, then close', () => {
  let backend: R2d2Backend;
  let envoy: WasmEnvoy;

  beforeAll(async () => {
    buildFilters('r2d2');
    backend = await startR2d2Backend();
    envoy = await startWasmEnvoy({
      wasmFile: filterWasm('r2d2'),
      rootId: 'r2d2',
      configuration: JSON.stringify({ parser: 'r2d2', maxBufferBytes: MIB }),
      backendPort: backend.port,
    });
  }, 600_000);

  afterAll(async () => {
    await envoy?.stop();
    await backend?.close();
  });

  it('a READ pipelined with 1 MiB of garbage in one write reaches the backend, its reply reaches the client, then the connection closes', async () => {
    const client = await connectLineClient(envoy.listenerPort);
    await client.send(Buffer.concat([Buffer.from('READ a\r\n', 'latin1'), Buffer.alloc(MIB + 4096, 0x78)]));
    await client.waitForClose(10000);
    expect(backend.received).toEqual(['READ a']);
    expect(backend.receivedBytes()).toBe('READ a\r\n'.length);
    expect(client.received()).toBe('OK a written 0 times\r\n');
    const error = envoy.accessLogEntries().find((entry) => entry.type === 'Error');
    expect(error).toMatchObject({ proto: 'r2d2', fields: { direction: 'request', code: 4 } });
    expect(error?.reason).toContain('exceeds maxBufferBytes (1048576 bytes)');
  }, 20000);

  it('a client that sends nothing after the ERROR is closed by a tick once its reply went out', async () => {
    const client = await connectLineClient(envoy.listenerPort);
    // Exactly one byte over the cap: the ERROR fires on the last read, so no later client callback
    // can close the connection; the root tick has to.
    await client.send(Buffer.concat([Buffer.from('READ b\r\n', 'latin1'), Buffer.alloc(MIB + 1, 0x79)]));
    await client.waitForClose(10000);
    expect(client.received()).toBe('OK b written 0 times\r\n');
  }, 20000);

  it('Envoy keeps serving new connections afterwards', async () => {
    const client = await connectLineClient(envoy.listenerPort);
    await client.send('HALT\r\n');
    expect(await client.waitForLines(1)).toEqual(['OK halted']);
    client.close();
    await waitFor(() => backend.received.includes('HALT'), 2000, 'HALT at the backend');
  });
});
