// The setup both access-log tests through a real Envoy share: a policy directory where droid-client
// (127.0.0.2) may only READ from droid-server's r2d2 backend, and a `weir serve` configuration
// that redirects a listener to that backend with the r2d2 parser. Test helper.
import fs from 'node:fs';
import path from 'node:path';
import { projectRoot } from '../../../server/envoy/binary.ts';
import { freePort } from '../../support/free-port.ts';
import { requireBuiltFilters } from '../../filters/envoy-harness.ts';

export const CLIENT_IP = '127.0.0.2';

const POLICIES = (backendPort: number): string => `apiVersion: weir.dev/v1
kind: Endpoint
metadata: { name: droid-server }
spec: { labels: { app: droid-server }, ips: [127.0.0.1] }
---
apiVersion: weir.dev/v1
kind: Endpoint
metadata: { name: droid-client }
spec: { labels: { app: droid-client }, ips: [${CLIENT_IP}] }
---
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: { name: droid-readonly }
spec:
  endpointSelector: { matchLabels: { app: droid-server } }
  ingress:
    - fromEndpoints: [{ matchLabels: { app: droid-client } }]
      toPorts:
        - ports: [{ port: "${backendPort}", protocol: TCP }]
          rules: { l7proto: r2d2, l7: [{ cmd: READ }] }
`;

/**
 * Writes `policies/droids.yaml` and `weir.yaml` into `dir` (xDS on `xdsPort`, 0 for any) and
 * returns the configuration file. Fails early when the filters the test needs are not built.
 */
export async function writeDroidServeConfig(dir: string, backendPort: number, xdsPort: number): Promise<string> {
  requireBuiltFilters('r2d2.wasm', 'agent.wasm');
  fs.mkdirSync(path.join(dir, 'policies'));
  fs.writeFileSync(path.join(dir, 'policies', 'droids.yaml'), POLICIES(backendPort));
  const configFile = path.join(dir, 'weir.yaml');
  fs.writeFileSync(configFile, [
    `xds: { address: 127.0.0.1, port: ${xdsPort}, batchWindowMs: 10 }`,
    'policies: { dir: policies, enforcementMode: default }',
    'api: { socket: weir.sock }',
    'redirects:',
    `  - { name: r2d2, parser: r2d2, endpoint: droid-server, listen: { address: 127.0.0.1, port: ${await freePort()} }, upstream: { address: 127.0.0.1, port: ${backendPort} } }`,
    `filters: { dir: ${JSON.stringify(path.join(projectRoot, 'build', 'filters'))} }`,
  ].join('\n'));
  return configFile;
}
