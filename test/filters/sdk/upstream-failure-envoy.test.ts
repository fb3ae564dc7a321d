// A redirect whose server does not listen: Envoy's tcp_proxy cannot connect and closes the
// client's connection. Before, the client saw a silent close and the access log nothing; now the
// filter logs an Error entry saying that Envoy could not reach the server (issue 20). Real Envoy,
// the r2d2 filter, an upstream port nobody listens on.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freeLoopbackPort } from '../../../demo/servers/loopback-port.ts';
import { buildFilters, filterWasm, startWasmEnvoy, waitFor, type WasmEnvoy } from '../envoy-harness.ts';
import { connectLineClient } from '../line-client.ts';

describe('a server that does not listen', () => {
  let envoy: WasmEnvoy;

  beforeAll(async () => {
    buildFilters('r2d2');
    envoy = await startWasmEnvoy({
      wasmFile: filterWasm('r2d2'),
      rootId: 'r2d2',
      configuration: JSON.stringify({ parser: 'r2d2' }),
      backendPort: await freeLoopbackPort(),
    });
  }, 600_000);

  afterAll(async () => {
    await envoy?.stop();
  });

  it('gets the client closed and an Error entry that says Envoy could not connect to the server', async () => {
    const client = await connectLineClient(envoy.listenerPort);
    await client.send('READ a\r\n');
    await client.waitForClose(30_000);
    expect(client.received()).toBe('');
    await waitFor(() => envoy.accessLogEntries().some((entry) => entry.type === 'Error'), 30_000, 'an Error entry');
    const error = envoy.accessLogEntries().find((entry) => entry.type === 'Error');
    expect(error).toMatchObject({ proto: 'r2d2', fields: { upstream: 'unreachable' } });
    expect(error?.reason).toMatch(/^upstream connection failed: Envoy could not connect to the server/);
  }, 90_000);
});
