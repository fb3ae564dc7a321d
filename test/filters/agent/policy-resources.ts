// Test support: turns CiliumNetworkPolicy YAML and endpoint specs into the weir.NetworkPolicy and
// weir.IdentityMap resources the control server serves (the real compiler and serializer), and
// DiscoveryResponse/DiscoveryRequest bytes for tests that play the xDS server to the agent.
import { buildPolicyResources } from '../../../server/snapshot/serve-snapshot.ts';
import { endpointFromSpec, type EndpointSpec } from '../../../server/identity/endpoints.ts';
import { compilePolicies } from '../../../server/policy/compile.ts';
import type { CompiledPolicySet } from '../../../server/policy/compiled-policy.ts';
import type { L7RuleRegistry } from '../../../server/policy/l7-rule-keys.ts';
import { formatProblem } from '../../../server/policy/policy-problems.ts';
import { serializePolicySet } from '../../../server/policy/serialize.ts';
import { validatePolicyText } from '../../../server/policy/validate-policy.ts';
import { envoyMessageType } from '../../../server/xds/envoy-protos.ts';
import type { EncodedResource } from '../../../server/xds/resources/encoded-resource.ts';
import { IDENTITY_MAP_TYPE_URL } from '../../../server/xds/resources/identity-map.ts';

export interface CompiledResources {
  policySet: CompiledPolicySet;
  policies: EncodedResource[];
  identityMap: EncodedResource;
  identityOf(endpoint: string): number;
}

/**
 * Compiles policy YAML for `endpoints` and encodes it exactly as `weir serve` does
 * (buildPolicyResources), carrying `revision` (default: the compiled set's content revision).
 */
export function compileResources(policyYaml: readonly string[], endpoints: readonly EndpointSpec[], options: { revision?: string; registry?: L7RuleRegistry } = {}): CompiledResources {
  const rules = policyYaml.flatMap((text, index) => {
    const result = validatePolicyText({ file: `policies/p${index}.yaml`, text, ...(options.registry === undefined ? {} : { registry: options.registry }) });
    if (!result.ok) throw new Error(result.problems.map(formatProblem).join('\n'));
    return result.policies.flatMap((policy) => policy.rules);
  });
  const compiledEndpoints = endpoints.map(endpointFromSpec);
  const result = compilePolicies({ rules, endpoints: compiledEndpoints, enforcementMode: 'default' });
  if (!result.ok) throw new Error(result.problems.map(formatProblem).join('\n'));
  const policySet = result.policySet;
  const revision = options.revision ?? serializePolicySet(policySet).revision;
  const resources = buildPolicyResources({ revision, files: [], rules, endpoints: compiledEndpoints, policySet });
  const identityMap = resources.find((resource) => resource.typeUrl === IDENTITY_MAP_TYPE_URL);
  if (identityMap === undefined) throw new Error('buildPolicyResources returned no identity map');
  const policies = resources.filter((resource) => resource !== identityMap);
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
