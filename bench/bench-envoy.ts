// The Envoy a protocol benchmark measures: one listener in front of one backend, with a Weir
// parser's release build before tcp_proxy (`weir`) or tcp_proxy alone (`tcp_proxy`), from a static
// bootstrap. Shared by the benches that compare the two in one run.
import path from 'node:path';
import { repoRoot, startListeningEnvoy } from '../test/filters/envoy-harness.ts';
import { freeLoopbackPort } from '../demo/servers/loopback-port.ts';

export interface BenchEnvoy {
  port: number;
  pid: number;
  output(): string;
  stop(): Promise<void>;
}

export interface BenchEnvoyOptions {
  mode: 'weir' | 'tcp_proxy';
  /** The parser (build/filters/<parser>.wasm, root_id <parser>) and its plugin configuration JSON. */
  parser: string;
  configuration: string;
  backendPort: number;
  /** Envoy --concurrency. */
  concurrency: number;
}

export async function startBenchEnvoy(options: BenchEnvoyOptions): Promise<BenchEnvoy> {
  const { mode, parser, backendPort } = options;
  const port = await freeLoopbackPort();
  const filters: object[] = [];
  if (mode === 'weir') {
    filters.push({
      name: `weir.${parser}`,
      typed_config: {
        '@type': 'type.googleapis.com/envoy.extensions.filters.network.wasm.v3.Wasm',
        config: {
          name: `weir-${parser}`,
          root_id: parser,
          failure_policy: 'FAIL_RELOAD',
          configuration: { '@type': 'type.googleapis.com/google.protobuf.StringValue', value: options.configuration },
          vm_config: { vm_id: `weir-${parser}`, runtime: 'envoy.wasm.runtime.v8', code: { local: { filename: path.join(repoRoot, 'build', 'filters', `${parser}.wasm`) } } },
        },
      },
    });
  }
  filters.push({ name: 'envoy.filters.network.tcp_proxy', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy', stat_prefix: 'bench', cluster: 'backend' } });
  const bootstrap = {
    node: { id: `bench-${parser}-${mode}`, cluster: 'bench' },
    admin: { address: { socket_address: { address: '127.0.0.1', port_value: 0 } } },
    static_resources: {
      listeners: [{ name: 'bench', address: { socket_address: { address: '127.0.0.1', port_value: port } }, filter_chains: [{ filters }] }],
      clusters: [{ name: 'backend', type: 'STATIC', connect_timeout: '1s', load_assignment: { cluster_name: 'backend', endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: '127.0.0.1', port_value: backendPort } } } }] }] } }],
    },
  };
  const envoy = await startListeningEnvoy({ bootstrapYaml: JSON.stringify(bootstrap), concurrency: options.concurrency, logLevel: 'warning', componentLogLevel: 'wasm:warning' }, { [mode]: port });
  return { port, pid: envoy.pid, output: () => envoy.log(), stop: () => envoy.stop() };
}
