// Test support: turns CiliumNetworkPolicy YAML and endpoint specs into the weir.NetworkPolicy and
// weir.IdentityMap resources the control server serves (the real compiler and serializer), and
// DiscoveryResponse/DiscoveryRequest bytes for tests that play the xDS server to the agent.
import { endpointFromSpec, type EndpointSpec } from '../../../server/identity/endpoints.ts';
import { compilePolicies, formatProblem, serializeEndpointPolicy, validatePolicyText, type CompiledPolicySet, type L7RuleRegistry } from '../../../server/policy/index.ts';
import { envoyMessageType } from '../../../server/xds/envoy-protos.ts';
import type { EncodedResource } from '../../../server/xds/resources/encoded-resource.ts';
import { HostProcess, type FilterVm } from '../../../server/wasm-host/index.ts';
import { IDENTITY_MAP_TYPE_URL, encodeIdentityMap } from '../../../server/xds/resources/identity-map.ts';
import { NETWORK_POLICY_TYPE_URL, encodeNetworkPolicy } from '../../../server/xds/resources/network-policy.ts';

export interface CompiledResources {
  policySet: CompiledPolicySet;
  policies: EncodedResource[];
  identityMap: EncodedResource;
  identityOf(endpoint: string): number;
}

export function compileResources(policyYaml: readonly string[], endpoints: readonly EndpointSpec[], registry?: L7RuleRegistry): CompiledResources {
  const rules = policyYaml.flatMap((text, index) => {
    const result = validatePolicyText({ file: `policies/p${index}.yaml`, text, ...(registry === undefined ? {} : { registry }) });
    if (!result.ok) throw new Error(result.problems.map(formatProblem).join('\n'));
    return result.policies.flatMap((policy) => policy.rules);
  });
  const result = compilePolicies({ rules, endpoints: endpoints.map(endpointFromSpec), enforcementMode: 'default' });
  if (!result.ok) throw new Error(result.problems.map(formatProblem).join('\n'));
  const policySet = result.policySet;
  const policies = policySet.endpoints.map((endpoint) => {
    const serialized = serializeEndpointPolicy(endpoint);
    return encodeNetworkPolicy({ endpoint: endpoint.endpoint, endpointIps: endpoint.ips, identity: endpoint.identity, revision: serialized.revision, compiled: serialized.json });
  });
  const identityMap = encodeIdentityMap({ entries: policySet.ipIdentities });
  const identityOf = (name: string): number => {
    const found = policySet.endpoints.find((endpoint) => endpoint.endpoint === name);
    if (found === undefined) throw new Error(`no endpoint ${name}`);
    return found.identity;
  };
  return { policySet, policies, identityMap, identityOf };
}

/** r2d2 server `db` on port 9000: `web` may READ anything, `admin` may also WRITE files starting with "log". */
export const R2D2_DB_POLICY = `apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: { name: db-r2d2 }
specs:
  - endpointSelector: { matchLabels: { app: db } }
    ingress:
      - fromEndpoints: [{ matchLabels: { app: web } }]
        toPorts:
          - ports: [{ port: "9000", protocol: TCP }]
            rules:
              l7proto: r2d2
              l7: [{ cmd: READ }]
      - fromEndpoints: [{ matchLabels: { app: admin } }]
        toPorts:
          - ports: [{ port: "9000", protocol: TCP }]
            rules:
              l7proto: r2d2
              l7: [{ cmd: READ }, { cmd: WRITE, file: "^log" }]
`;

/** Only reads, for everyone the first policy names: a policy change for open connections. */
export const R2D2_DB_READ_ONLY_POLICY = R2D2_DB_POLICY.replace('[{ cmd: READ }, { cmd: WRITE, file: "^log" }]', '[{ cmd: READ, file: "^public" }]');

export const ENDPOINTS: EndpointSpec[] = [
  { name: 'db', labels: { app: 'db' }, ips: ['127.0.0.10'] },
  { name: 'web', labels: { app: 'web' }, ips: ['127.0.0.2'] },
  { name: 'admin', labels: { app: 'admin' }, ips: ['127.0.0.3'] },
];

export interface AnyMessage {
  type_url: string;
  value: Uint8Array;
}

export function discoveryResponse(options: { versionInfo: string; typeUrl: string; nonce: string; resources: readonly AnyMessage[] }): Uint8Array {
  const type = envoyMessageType('envoy.service.discovery.v3.DiscoveryResponse');
  const message = type.fromObject({ version_info: options.versionInfo, type_url: options.typeUrl, nonce: options.nonce, resources: options.resources.map((r) => ({ type_url: r.type_url, value: r.value })) });
  return type.encode(message).finish();
}

export interface DecodedDiscoveryRequest {
  version_info: string;
  node?: { id: string; cluster: string; user_agent_name: string };
  type_url: string;
  response_nonce: string;
  error_detail?: { code: number; message: string };
}

export function decodeDiscoveryRequest(bytes: Uint8Array): DecodedDiscoveryRequest {
  const type = envoyMessageType('envoy.service.discovery.v3.DiscoveryRequest');
  return type.toObject(type.decode(bytes), { defaults: true }) as DecodedDiscoveryRequest;
}

export function asAny(resource: EncodedResource): AnyMessage {
  return { type_url: resource.typeUrl, value: resource.value };
}

/**
 * A host process whose Weir agent received `compiled` (policies, then the identity map) as an ADS
 * server would send them, so parser VMs loaded into the process with `policy: agent` enforce it.
 * `revision` replaces each policy's own revision (as `weir serve` sends the store revision).
 */
export function processWithPublishedPolicy(compiled: CompiledResources, startAgent: (process: HostProcess) => FilterVm, revision?: string): HostProcess {
  const process = new HostProcess();
  const agent = startAgent(process);
  const policies = revision === undefined
    ? compiled.policies
    : compiled.policySet.endpoints.map((endpoint) => encodeNetworkPolicy({ endpoint: endpoint.endpoint, endpointIps: endpoint.ips, identity: endpoint.identity, revision, compiled: serializeEndpointPolicy(endpoint).json }));
  const ads = agent.grpc.exchanges.filter((exchange) => exchange.kind === 'stream' && exchange.method === 'StreamAggregatedResources').at(-1);
  if (ads === undefined) throw new Error('the agent opened no ADS stream');
  const server = agent.grpc.serverSide(ads.token);
  server.sendMessage(discoveryResponse({ versionInfo: 'v1', typeUrl: NETWORK_POLICY_TYPE_URL, nonce: 'n1', resources: policies.map(asAny) }));
  agent.settle();
  server.sendMessage(discoveryResponse({ versionInfo: 'i1', typeUrl: IDENTITY_MAP_TYPE_URL, nonce: 'n2', resources: [asAny(compiled.identityMap)] }));
  agent.settle();
  return process;
}
