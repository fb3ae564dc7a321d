// Proves that an Envoy binary runs Proxy-Wasm network filters with the V8 runtime: loads the probe
// module (filters/probe) in front of an echo server and checks that "ping" comes back as "pong".
// Set-up runs it so that an Envoy built without Wasm fails early and loudly.
import net from 'node:net';
import { startEnvoy } from './process.ts';
import { listenerPort } from './listeners.ts';

export interface WasmProbeOptions {
  probeWasmPath: string;
  envoyBinary: string;
}

export interface WasmProbeResult {
  runtime: string;
  echoed: string;
}

const V8_RUNTIME = 'envoy.wasm.runtime.v8';

export async function runWasmProbe(options: WasmProbeOptions): Promise<WasmProbeResult> {
  const echo = await startEchoServer();
  const envoy = await startEnvoy({
    bootstrapYaml: JSON.stringify(probeBootstrap(options.probeWasmPath, echo.port)),
    envoyBinary: options.envoyBinary,
  }).catch((error: unknown) => {
    void echo.close();
    throw new Error(`Envoy refused the Wasm probe configuration; this build cannot run Weir's filters.\n${String(error)}`);
  });
  try {
    await envoy.waitReady();
    const port = await listenerPort(envoy, 'weir-probe');
    const echoed = await roundTrip(port, 'ping');
    if (echoed !== 'pong') {
      throw new Error(`the Wasm probe filter did not run: sent "ping" through Envoy, got "${echoed}" back (expected "pong"). Envoy log:\n${envoy.log()}`);
    }
    const stats = await envoy.admin('/stats?filter=wasm');
    if (!stats.body.includes(`wasm.${V8_RUNTIME}`)) {
      throw new Error(`the Wasm probe ran, but Envoy reports no ${V8_RUNTIME} stats:\n${stats.body}`);
    }
    return { runtime: V8_RUNTIME, echoed };
  } finally {
    await envoy.stop();
    await echo.close();
  }
}

function probeBootstrap(probeWasmPath: string, echoPort: number): object {
  return {
    node: { id: 'weir-wasm-probe', cluster: 'weir-setup' },
    admin: { address: { socket_address: { address: '127.0.0.1', port_value: 0 } } },
    static_resources: {
      listeners: [
        {
          name: 'weir-probe',
          address: { socket_address: { address: '127.0.0.1', port_value: 0 } },
          filter_chains: [
            {
              filters: [
                {
                  name: 'weir.probe',
                  typed_config: {
                    '@type': 'type.googleapis.com/envoy.extensions.filters.network.wasm.v3.Wasm',
                    config: {
                      name: 'weir.probe',
                      root_id: 'probe',
                      failure_policy: 'FAIL_CLOSED',
                      vm_config: { vm_id: 'weir.probe', runtime: V8_RUNTIME, code: { local: { filename: probeWasmPath } } },
                    },
                  },
                },
                {
                  name: 'envoy.filters.network.tcp_proxy',
                  typed_config: {
                    '@type': 'type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy',
                    stat_prefix: 'weir_probe',
                    cluster: 'echo',
                  },
                },
              ],
            },
          ],
        },
      ],
      clusters: [
        {
          name: 'echo',
          type: 'STATIC',
          connect_timeout: '1s',
          load_assignment: {
            cluster_name: 'echo',
            endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: '127.0.0.1', port_value: echoPort } } } }] }],
          },
        },
      ],
    },
  };
}

async function startEchoServer(): Promise<{ port: number; close(): Promise<void> }> {
  const server = net.createServer((socket) => {
    socket.on('error', () => socket.destroy());
    socket.pipe(socket);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('echo server has no TCP address');
  return { port: address.port, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

function roundTrip(port: number, message: string): Promise<string> {
  return new Promise<string>((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => socket.write(message));
    let received = '';
    const timer = setTimeout(() => {
      socket.destroy();
      resolve(received);
    }, 5_000);
    socket.on('data', (chunk) => {
      received += chunk.toString('latin1');
      if (received.length >= message.length) {
        clearTimeout(timer);
        socket.destroy();
        resolve(received);
      }
    });
    socket.on('error', (error) => {
      clearTimeout(timer);
      reject(new Error(`connection to the probe listener on 127.0.0.1:${port} failed: ${error.message}`));
    });
  });
}
