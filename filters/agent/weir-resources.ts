// Decodes and validates the two Weir resource types of a DiscoveryResponse (protos/weir/,
// docs/policy-wire.md) into what the publisher writes to shared data. Validation is the parser
// SDK's own reading of the compiled JSON (policy-table.ts, identity-table.ts) with L7 rules
// checked for shape, so what the agent ACKs is what parser VMs can read. Any problem is returned
// as one message naming the resource; the ADS client NACKs with it.
import { ProtoReader } from '../sdk/bytes/protobuf';
import { AnyResource, DiscoveryResponse } from './discovery';
import { readEndpointPolicy } from '../sdk/policy/policy-table';
import { readIdentityTable } from '../sdk/policy/identity-table';

export const NETWORK_POLICY_TYPE_URL = 'type.googleapis.com/weir.NetworkPolicy';
export const IDENTITY_MAP_TYPE_URL = 'type.googleapis.com/weir.IdentityMap';

const enum NetworkPolicyField {
  Endpoint = 1,
  Revision = 4,
  Compiled = 5,
}

const enum IdentityMapField {
  Revision = 1,
  Compiled = 2,
}

export class PublishedPolicy {
  constructor(
    public endpoint: string,
    public revision: string,
    public compiled: ArrayBuffer,
  ) {}
}

export class PolicyUpdate {
  policies: Array<PublishedPolicy> = new Array<PublishedPolicy>();
  problem: string = ''; // non-empty: reject the whole response
}

export class IdentityUpdate {
  compiled: ArrayBuffer = new ArrayBuffer(0); // empty: no map, every remote is world
  revision: string = '';
  problem: string = '';
}

export function decodePolicies(response: DiscoveryResponse): PolicyUpdate {
  const update = new PolicyUpdate();
  for (let i = 0; i < response.resources.length; i++) {
    const where = 'resources[' + i.toString() + ']';
    const problem = decodePolicy(response.resources[i], update, where);
    if (problem.length > 0) {
      update.problem = problem;
      return update;
    }
  }
  return update;
}

export function decodeIdentityMap(response: DiscoveryResponse): IdentityUpdate {
  const update = new IdentityUpdate();
  if (response.resources.length > 1) {
    update.problem = 'weir.IdentityMap: ' + response.resources.length.toString() + ' resources; expected one, named "default"';
    return update;
  }
  if (response.resources.length == 0) return update;
  const resource = response.resources[0];
  if (resource.typeUrl != IDENTITY_MAP_TYPE_URL) {
    update.problem = 'resources[0]: type_url "' + resource.typeUrl + '" in a ' + IDENTITY_MAP_TYPE_URL + ' response';
    return update;
  }
  const reader = new ProtoReader(resource.pointer, resource.length);
  while (reader.next()) {
    if (reader.field == IdentityMapField.Revision && reader.wireType == 2) update.revision = reader.stringValue();
    else if (reader.field == IdentityMapField.Compiled && reader.wireType == 2) update.compiled = copyOut(reader.valuePointer, reader.valueLength);
  }
  if (reader.failed) {
    update.problem = 'weir.IdentityMap "default": not a valid protobuf message';
    return update;
  }
  const problem = new Array<string>();
  if (readIdentityTable(changetype<usize>(update.compiled), update.compiled.byteLength, problem) === null) {
    update.problem = 'weir.IdentityMap "default" (revision ' + update.revision + '): ' + problem[0];
  }
  return update;
}

// Adds one policy to `update`; returns what is wrong with it, or ''.
function decodePolicy(resource: AnyResource, update: PolicyUpdate, where: string): string {
  if (resource.typeUrl != NETWORK_POLICY_TYPE_URL) return where + ': type_url "' + resource.typeUrl + '" in a ' + NETWORK_POLICY_TYPE_URL + ' response';
  const reader = new ProtoReader(resource.pointer, resource.length);
  let endpoint = '';
  let revision = '';
  let compiled = new ArrayBuffer(0);
  while (reader.next()) {
    if (reader.field == NetworkPolicyField.Endpoint && reader.wireType == 2) endpoint = reader.stringValue();
    else if (reader.field == NetworkPolicyField.Revision && reader.wireType == 2) revision = reader.stringValue();
    else if (reader.field == NetworkPolicyField.Compiled && reader.wireType == 2) compiled = copyOut(reader.valuePointer, reader.valueLength);
  }
  if (reader.failed) return where + ': weir.NetworkPolicy is not a valid protobuf message';
  if (endpoint.length == 0) return where + ': weir.NetworkPolicy has no endpoint';
  const named = 'weir.NetworkPolicy "' + endpoint + '"';
  for (let i = 0; i < update.policies.length; i++) {
    if (update.policies[i].endpoint == endpoint) return named + ': endpoint appears twice in one response';
  }
  const problem = new Array<string>();
  const policy = readEndpointPolicy(changetype<usize>(compiled), compiled.byteLength, null, '', problem);
  if (policy === null) return named + ' (revision ' + revision + '): compiled policy: ' + problem[0];
  if (policy.endpoint != endpoint) return named + ': compiled policy is for endpoint "' + policy.endpoint + '"';
  update.policies.push(new PublishedPolicy(endpoint, revision, compiled));
  return '';
}

function copyOut(pointer: usize, length: i32): ArrayBuffer {
  const copy = new ArrayBuffer(length);
  if (length > 0) memory.copy(changetype<usize>(copy), pointer, <usize>length);
  return copy;
}
