// Per-VM cache of what the agent published: each endpoint's policy and the identity map, decoded
// once per publish generation and shared by every connection of the VM. Reading shared data and
// decoding JSON allocates, so it happens only when `weir/generation` moved.
import { LogLevel } from '../abi/imports';
import { logText } from '../abi/host';
import { IdentityTable, readIdentityTable } from './identity-table';
import { EndpointPolicy, readEndpointPolicy } from './policy-table';
import { IDENTITIES_KEY, policyKey, readSharedData, revisionKey } from './policy-shared-data';
import { RuleSchema } from './rules';

const NEVER_READ: u64 = u64.MAX_VALUE;

export class CachedEndpointPolicy {
  generation: u64 = NEVER_READ;
  // null: nothing published for the endpoint, or unreadable (then `problem` says why).
  policy: EndpointPolicy | null = null;
  problem: string = '';
  // The policy's revision as the agent published it ('' when the agent published none).
  revision: string = '';
}

const endpointPolicies = new Map<string, CachedEndpointPolicy>();
let identityGeneration: u64 = NEVER_READ;
let identities: IdentityTable | null = null;

// The endpoint's policy as of `generation`, re-read from shared data when the generation moved.
export function endpointPolicyAt(endpoint: string, generation: u64, schema: RuleSchema, protocol: string): CachedEndpointPolicy {
  let cached: CachedEndpointPolicy;
  if (endpointPolicies.has(endpoint)) cached = endpointPolicies.get(endpoint);
  else {
    cached = new CachedEndpointPolicy();
    endpointPolicies.set(endpoint, cached);
  }
  if (cached.generation == generation) return cached;
  cached.generation = generation;
  cached.policy = null;
  cached.problem = '';
  const revision = readSharedData(revisionKey(endpoint));
  cached.revision = revision === null ? '' : String.UTF8.decode(revision);
  const bytes = readSharedData(policyKey(endpoint));
  if (bytes === null || bytes.byteLength == 0) return cached;
  const problem = new Array<string>();
  cached.policy = readEndpointPolicy(changetype<usize>(bytes), bytes.byteLength, schema, protocol, problem);
  if (cached.policy === null) {
    cached.problem = problem.length > 0 ? problem[0] : 'unreadable';
    logText(LogLevel.Error, 'weir ' + protocol + ': policy for endpoint ' + endpoint + ' published by the agent is unreadable: ' + cached.problem + '; its connections are denied until a readable one is published');
  }
  return cached;
}

// The identity map as of `generation`; an empty map (everything is world) when none is published.
export function identityTableAt(generation: u64): IdentityTable {
  if (identityGeneration != generation || identities === null) {
    identityGeneration = generation;
    identities = readPublishedIdentities();
  }
  return identities as IdentityTable;
}

// Whether the map last read by identityTableAt() came from the agent. False until the agent's
// first IdentityMap: the agent publishes each resource type when it arrives, so a policy can be
// in force for a moment with every remote counted as world, and denials should say so.
export function identityMapPublished(): bool {
  return identitiesPublished;
}

let identitiesPublished = false;

function readPublishedIdentities(): IdentityTable {
  const bytes = readSharedData(IDENTITIES_KEY);
  identitiesPublished = bytes !== null && bytes.byteLength > 0;
  if (bytes === null || bytes.byteLength == 0) return new IdentityTable();
  const problem = new Array<string>();
  const table = readIdentityTable(changetype<usize>(bytes), bytes.byteLength, problem);
  if (table !== null) return table;
  logText(LogLevel.Error, 'weir: the identity map published by the agent is unreadable: ' + (problem.length > 0 ? problem[0] : '?') + '; every remote counts as world (2)');
  return new IdentityTable();
}
