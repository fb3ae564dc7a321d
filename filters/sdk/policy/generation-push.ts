// The publish generation pushed to the VMs that ask for it, so that they need not read
// `weir/generation` from shared data on every request (a host call, and a call back into the VM
// for the copy: the HTTP filter's most frequent cost; docs/http.md "Live on open connections").
//
// Envoy runs one VM per worker thread, and a Wasm shared queue wakes exactly one VM: the last one
// that registered its (vm_id, name) (proxy-wasm-cpp-host SharedQueue::registerQueue), on the
// thread of that VM, in the root context that registered it. So each subscribing VM registers a
// queue of its own, `weir/generation/<n>`, with `n` claimed by compare-and-swap on the shared
// counter `weir/generation/subscribers` (8 bytes little-endian), which only the agent creates. The
// agent, after every bump of `weir/generation` and before it ACKs, rings every subscriber's queue
// (drains it, enqueues one message); a subscriber's proxy_on_queue_ready marks its generation stale,
// and its next request reads shared data once. Envoy posts the wake-up to the worker's dispatcher
// before the agent's ACK leaves, so a request sent after `weir policy wait` returned is decided
// after it.
//
// Nothing here can make a VM decide with an old policy:
// - a subscriber reads shared data on every request until the agent rang its queue once (the
//   agent's tick rings new subscribers within its period): an agent that does not push (older
//   build, another vm_id) leaves it reading, as before;
// - a subscriber reads the generation after it registered its queue, and the agent reads the
//   subscriber count after it bumped the generation: a publish the agent did not ring it for is
//   one whose generation it reads itself;
// - the subscription belongs to the root context that registered the queue: when that root is
//   deleted (its plugin removed) the VM reads on every request again and subscribes anew.
// Queues stay in Envoy until the last VM of the vm_id goes; ringing drains a queue first, so one
// whose VM is gone holds at most one message.
import { LogLevel, Status, proxy_dequeue_shared_queue, proxy_enqueue_shared_queue, proxy_get_shared_data, proxy_register_shared_queue, proxy_resolve_shared_queue, proxy_set_shared_data } from '../abi/imports';
import { logText } from '../abi/host';

export const GENERATION_SUBSCRIBERS_KEY = 'weir/generation/subscribers';
export const GENERATION_QUEUE_PREFIX = 'weir/generation/';
// The vm_id the parser VMs run under with Weir's bootstrap; inside Istio VMs have the empty vm_id.
const SUBSCRIBER_VM_ID = 'weir';
const CLAIM_ATTEMPTS = 8;
// After a failed subscription, requests until the next attempt (each attempt costs host calls).
const REQUESTS_BETWEEN_ATTEMPTS: u32 = 1024;

// Return slots: [0] pointer / token, [8] length, [16] CAS, [24] the value written.
const slots: usize = memory.data(32);

// --- Subscriber side (a parser or HTTP filter VM) ---

let subscribedRoot: u32 = 0; // the root that registered this VM's queue (0: not subscribed)
let queueToken: u32 = 0;
let subscriberNumber: u64 = 0;
let rung: bool = false; // the agent rang this VM's queue since it subscribed
let staleSinceRead: bool = true;
let requestsUntilAttempt: u32 = 0;

// True when the generation last read from shared data is still current: the agent pushes to this
// VM and has not rung since that read.
export function pushedGenerationCurrent(): bool {
  return rung && !staleSinceRead;
}

// The generation was just read from shared data.
export function noteGenerationRead(): void {
  staleSinceRead = false;
}

// Subscribes this VM (once; from a stream callback of root `rootContextId`, so that the queue
// wakes this worker's VM). Call before reading the generation: it marks it stale when it subscribes.
export function subscribeToGenerationPush(rootContextId: u32): void {
  if (subscribedRoot != 0) return;
  if (requestsUntilAttempt > 0) {
    requestsUntilAttempt--;
    return;
  }
  const subscriber = claimSubscriberNumber();
  if (subscriber == 0) {
    requestsUntilAttempt = REQUESTS_BETWEEN_ATTEMPTS; // no agent yet, or the counter is contended
    return;
  }
  const name = String.UTF8.encode(GENERATION_QUEUE_PREFIX + subscriber.toString());
  store<u32>(slots, 0);
  if (proxy_register_shared_queue(changetype<usize>(name), <usize>name.byteLength, slots) != Status.Ok) {
    logText(LogLevel.Warn, 'weir: could not register the shared queue ' + GENERATION_QUEUE_PREFIX + subscriber.toString() + '; this VM reads the policy generation on every request');
    requestsUntilAttempt = REQUESTS_BETWEEN_ATTEMPTS;
    return;
  }
  queueToken = load<u32>(slots);
  subscriberNumber = subscriber;
  subscribedRoot = rootContextId;
  rung = false;
  staleSinceRead = true; // read once after registering: a publish before it was not rung here
}

// proxy_on_queue_ready: the agent rang (this VM's queue, or one an earlier VM of this thread
// registered with a root id this VM reuses; either way reading again is right).
export function generationPushed(token: u32): void {
  drainQueue(token);
  staleSinceRead = true;
  if (token != queueToken || subscribedRoot == 0 || rung) return;
  rung = true;
  logText(LogLevel.Info, 'weir: the agent pushes policy generations to this VM (shared queue ' + GENERATION_QUEUE_PREFIX + subscriberNumber.toString() + '); it reads weir/generation only after a push');
}

// A root context is being deleted: if it held the subscription, Envoy no longer wakes this VM.
export function generationPushRootDeleted(rootContextId: u32): void {
  if (rootContextId != subscribedRoot) return;
  subscribedRoot = 0;
  queueToken = 0;
  rung = false;
  staleSinceRead = true;
}

// The next subscriber number (from 1), or 0 when the agent has not created the counter yet or
// other VMs kept winning the compare-and-swap.
function claimSubscriberNumber(): u64 {
  const key = String.UTF8.encode(GENERATION_SUBSCRIBERS_KEY);
  for (let attempt = 0; attempt < CLAIM_ATTEMPTS; attempt++) {
    if (readCounter(key) != CounterRead.Ok || counterCas == 0) return 0; // none yet, or not Weir's
    store<u64>(slots + 24, counterValue + 1);
    if (proxy_set_shared_data(changetype<usize>(key), <usize>key.byteLength, slots + 24, 8, counterCas) == Status.Ok) return counterValue + 1;
  }
  return 0;
}

const enum CounterRead {
  Missing,
  NotACounter, // a value that is not 8 bytes: not one Weir wrote
  Ok,
}

// The last readCounter's value and CAS.
let counterValue: u64 = 0;
let counterCas: u32 = 0;

// Reads an 8-byte little-endian counter from shared data into counterValue / counterCas.
function readCounter(key: ArrayBuffer): CounterRead {
  store<usize>(slots, 0);
  store<usize>(slots + 8, 0);
  store<u32>(slots + 16, 0);
  if (proxy_get_shared_data(changetype<usize>(key), <usize>key.byteLength, slots, slots + 8, slots + 16) != Status.Ok) return CounterRead.Missing;
  const pointer = load<usize>(slots);
  const size = load<usize>(slots + 8);
  counterCas = load<u32>(slots + 16);
  counterValue = pointer != 0 && size == 8 ? load<u64>(pointer) : 0; // safe: the host gave 8 bytes
  if (pointer != 0) heap.free(pointer);
  return size == 8 ? CounterRead.Ok : CounterRead.NotACounter;
}

function drainQueue(token: u32): void {
  for (;;) {
    store<usize>(slots, 0);
    store<usize>(slots + 8, 0);
    if (proxy_dequeue_shared_queue(token, slots, slots + 8) != Status.Ok) return;
    const pointer = load<usize>(slots);
    if (pointer != 0) heap.free(pointer);
  }
}

// --- Agent side ---

// Per subscriber number - 1: its queue token (0: not resolved yet) and whether it was rung.
const subscriberTokens = new Array<u32>();
const subscriberRung = new Array<bool>();

// Creates the subscriber counter when there is none (the agent is its only creator, so two VMs
// can never both claim a number from a missing key). A restarted agent keeps the count.
export function createGenerationSubscribers(): void {
  const key = String.UTF8.encode(GENERATION_SUBSCRIBERS_KEY);
  if (readCounter(key) != CounterRead.Missing) return;
  store<u64>(slots + 24, 0);
  if (proxy_set_shared_data(changetype<usize>(key), <usize>key.byteLength, slots + 24, 8, 0) != Status.Ok) {
    logText(LogLevel.Error, 'weir agent: Envoy refused to store ' + GENERATION_SUBSCRIBERS_KEY + '; parser VMs read the policy generation on every request');
  }
}

// Rings every subscriber (after a publish: `onlyNew` false) or only those never rung (the tick,
// which confirms new subscribers that the agent pushes to them).
export function ringGenerationSubscribers(generation: u64, onlyNew: bool): void {
  const count = readSubscriberCount();
  while (<u64>subscriberTokens.length < count) {
    subscriberTokens.push(0);
    subscriberRung.push(false);
  }
  store<u64>(slots + 24, generation);
  for (let i = 0; i < subscriberTokens.length; i++) {
    if (onlyNew && subscriberRung[i]) continue;
    let token = subscriberTokens[i];
    if (token == 0) {
      token = resolveSubscriber(i + 1);
      subscriberTokens[i] = token;
      if (token == 0) continue; // claimed, not registered yet: it reads the generation itself
    }
    drainQueue(token);
    if (proxy_enqueue_shared_queue(token, slots + 24, 8) == Status.Ok) subscriberRung[i] = true;
    else subscriberTokens[i] = 0;
  }
}

function readSubscriberCount(): u64 {
  return readCounter(String.UTF8.encode(GENERATION_SUBSCRIBERS_KEY)) == CounterRead.Ok ? counterValue : 0;
}

// The queue of subscriber `n`, under vm_id `weir` or else the empty vm_id (Istio); 0: none yet.
function resolveSubscriber(n: i32): u32 {
  const name = String.UTF8.encode(GENERATION_QUEUE_PREFIX + n.toString());
  const vmId = String.UTF8.encode(SUBSCRIBER_VM_ID);
  store<u32>(slots, 0);
  if (proxy_resolve_shared_queue(changetype<usize>(vmId), <usize>vmId.byteLength, changetype<usize>(name), <usize>name.byteLength, slots) == Status.Ok && load<u32>(slots) != 0) return load<u32>(slots);
  store<u32>(slots, 0);
  if (proxy_resolve_shared_queue(changetype<usize>(vmId), 0, changetype<usize>(name), <usize>name.byteLength, slots) == Status.Ok) return load<u32>(slots);
  return 0;
}
