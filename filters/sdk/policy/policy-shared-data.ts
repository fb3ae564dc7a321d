// The shared-data layout through which the Weir agent hands policy to parser VMs (all VMs with
// vm_id `weir` in one Envoy share it; docs/policy-wire.md): the key names, reading a value, and
// writing one (the agent is the only writer). `weir/generation` is an 8-byte little-endian counter
// the agent bumps after each complete publish, so parsers re-read only when it changed.
import { Status, proxy_get_shared_data, proxy_set_shared_data } from '../abi/imports';
import { callbackEpoch } from '../abi/callback-scope';
import { noteGenerationRead, pushedGenerationCurrent } from './generation-push';

export const GENERATION_KEY = 'weir/generation';
export const IDENTITIES_KEY = 'weir/identities';
export const POLICY_KEY_PREFIX = 'weir/policy/';
// The revision (weir.NetworkPolicy.revision) of the policy under `weir/policy/<endpoint>`, for the
// access log's "policy revision that decided"; written before the generation bump like the policy.
export const REVISION_KEY_PREFIX = 'weir/revision/';

// Return slots: value pointer, value length, CAS.
const slots: usize = memory.data(24);
const GENERATION_KEY_BYTES: ArrayBuffer = String.UTF8.encode(GENERATION_KEY);

export function policyKey(endpoint: string): string {
  return POLICY_KEY_PREFIX + endpoint;
}

export function revisionKey(endpoint: string): string {
  return REVISION_KEY_PREFIX + endpoint;
}

// The value under `key`, or null when there is none (an empty value reads as an empty buffer).
export function readSharedData(key: string): ArrayBuffer | null {
  const encodedKey = String.UTF8.encode(key);
  store<usize>(slots, 0);
  store<usize>(slots + 8, 0);
  const status = proxy_get_shared_data(changetype<usize>(encodedKey), <usize>encodedKey.byteLength, slots, slots + 8, slots + 16);
  if (status != Status.Ok) return null;
  const pointer = load<usize>(slots);
  const size = load<usize>(slots + 8);
  const copy = new ArrayBuffer(<i32>size);
  if (size > 0 && pointer != 0) memory.copy(changetype<usize>(copy), pointer, size);
  if (pointer != 0) heap.free(pointer);
  return copy;
}

// `weir/generation` as read in the data callback numbered `generationEpoch` (callback-scope.ts).
let generationEpoch: u32 = 0;
let generationInEpoch: u64 = 0;

// The publish counter; 0 when the agent has published nothing yet. Read from the host once per
// data callback (every call outside one), so a publish lands at the next callback, not in the
// middle of one: a shared-data read takes Envoy's global lock. In a VM the agent pushes the
// generation to (generation-push.ts), read only after the agent rang since the last read.
export function readGeneration(): u64 {
  const epoch = callbackEpoch();
  if (epoch != 0 && (epoch == generationEpoch || pushedGenerationCurrent())) return generationInEpoch;
  generationInEpoch = readGenerationFromHost();
  generationEpoch = epoch;
  noteGenerationRead();
  return generationInEpoch;
}

// Reuses the encoded key and reads the 8 bytes straight from the host's copy.
function readGenerationFromHost(): u64 {
  store<usize>(slots, 0);
  store<usize>(slots + 8, 0);
  const status = proxy_get_shared_data(changetype<usize>(GENERATION_KEY_BYTES), <usize>GENERATION_KEY_BYTES.byteLength, slots, slots + 8, slots + 16);
  if (status != Status.Ok) return 0;
  const pointer = load<usize>(slots);
  const size = load<usize>(slots + 8);
  if (pointer == 0) return 0;
  const generation = size == 8 ? load<u64>(pointer) : 0; // safe: the host copied `size` bytes there
  heap.free(pointer);
  return generation;
}

// Writes `value` under `key` (no CAS: the agent is the only writer). False when the host refused.
export function writeSharedData(key: string, value: ArrayBuffer): bool {
  const encodedKey = String.UTF8.encode(key);
  const status = proxy_set_shared_data(changetype<usize>(encodedKey), <usize>encodedKey.byteLength, changetype<usize>(value), <usize>value.byteLength, 0);
  return status == Status.Ok;
}

export function writeGeneration(generation: u64): bool {
  const value = new ArrayBuffer(8);
  store<u64>(changetype<usize>(value), generation);
  return writeSharedData(GENERATION_KEY, value);
}
