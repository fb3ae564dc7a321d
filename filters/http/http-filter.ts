// The HTTP filter's contexts and callbacks: a root context per plugin configuration, a stream
// context per request. At the request headers it decides with the connection's policy
// (http-connection.ts) and either lets the request continue to the router, or answers it itself
// with Cilium's denial (403, body `Access denied\r\n`; Envoy turns it into grpc-status 7
// PERMISSION_DENIED for a gRPC request) and logs a Denied entry, so a denied request never reaches
// the upstream. An allowed request is counted when Envoy deletes its stream context
// (proxy_on_delete, after the access-log phase, while the stream's information is still
// readable), with the status Envoy sent downstream (0 if none): consecutive identical allowed
// requests of a connection share one Request entry with their number (request-tally.ts),
// written within about a second, because each entry costs more than the decision (docs/http.md).
// Every entry carries method, path, host and status. Each Wasm callback costs Envoy several
// microseconds per request, so the module exports no callback it can do without (exports.ts).
import { ByteBuffer } from '../sdk/bytes/byte-buffer';
import { EntryAttribution, EntryType, LogFields } from '../sdk/access-log/access-log';
import { finishAccessLogCallback, flushAccessLogNow, flushAccessLogOnTick } from '../sdk/access-log/access-log-queue';
import { enterCallbackScope, leaveCallbackScope } from '../sdk/abi/callback-scope';
import { RequestRecord } from '../sdk/policy/rules';
import { PluginSettings } from '../sdk/contract/settings';
import { Action, BufferType, LogLevel, proxy_send_local_response } from '../sdk/abi/imports';
import { ROOT_TICK_MS, appendHostBuffer, logText, nowMilliseconds, propertyU64, setTickPeriod } from '../sdk/abi/host';
import { generationPushRootDeleted, generationPushed, subscribeToGenerationPush } from '../sdk/policy/generation-push';
import { connectionFor, writeDueTallies } from './http-connection';
import { HttpRuleSchema } from './http-rule-schema';
import { readHttpSettings } from './http-settings';
import { RequestHeaders } from './request-headers';

// Cilium's answer to a denied HTTP request (cilium/proxy l7policy), and Envoy's response code
// details for it (%RESPONSE_CODE_DETAILS% in Envoy's access log; no spaces allowed).
const DENIED_STATUS: u32 = 403;
const DENIED_BODY = 'Access denied\r\n';
const DENIED_DETAILS = 'weir_policy_denied';
const NO_GRPC_STATUS: i32 = -1; // Envoy derives it from the HTTP status for gRPC requests

const enum Verdict {
  Undecided = 0,
  Allowed = 1, // counted for its Request entry when its context is deleted
  Denied = 2,
}

class HttpStream {
  rootContextId: u32 = 0;
  verdict: Verdict = Verdict.Undecided;
  connectionId: u64 = 0;
  // method, path and host of an allowed request, and what allowed it, for its Request entry.
  requestLine: ByteBuffer = new ByteBuffer();
  methodLength: i32 = 0;
  pathLength: i32 = 0;
  attribution: EntryAttribution = new EntryAttribution();
}

// One rule schema, record and header reader per VM: header keys are VM-wide, and one stream's
// headers are read and matched inside one callback.
const schema = new HttpRuleSchema();
let record = new RequestRecord(schema.keys.length);
const headers = new RequestHeaders();
const fields = new LogFields();

const rootSettings = new Map<u32, PluginSettings>();
const streams = new Map<u32, HttpStream>();
const idleStreams = new Array<HttpStream>();
let deniedBody: ArrayBuffer | null = null;
let deniedDetails: ArrayBuffer | null = null;
// The root whose ticks write the counts of allowed requests when due (0: none asked), and when it
// was asked or last ticked: a root silent for TALLY_STALE_MS (its plugin replaced) is replaced.
let tallyRoot: u32 = 0;
let tallyRootSeenMs: u64 = 0;
const TALLY_STALE_MS: u64 = 3 * <u64>ROOT_TICK_MS;
// A count that keeps growing checks its root every this many requests (one clock read).
const TALLY_CHECK_REQUESTS: u64 = 1024;

export function createContext(contextId: u32, parentId: u32): void {
  if (parentId == 0) return; // a root: configured in configureRoot
  const stream = idleStreams.length > 0 ? idleStreams.pop() : new HttpStream();
  stream.rootContextId = parentId;
  stream.verdict = Verdict.Undecided;
  streams.set(contextId, stream);
}

// proxy_on_configure: false refuses the configuration (Envoy NACKs it or does not start).
export function configureRoot(rootId: u32, configurationSize: u32): bool {
  const raw = new ByteBuffer();
  if (!appendHostBuffer(BufferType.PluginConfiguration, configurationSize, raw)) {
    logText(LogLevel.Error, 'weir http: could not read the plugin configuration from Envoy');
    raw.release();
    return false;
  }
  const problem = new Array<string>();
  const settings = readHttpSettings(raw.readPtr, <i32>raw.length, schema, problem);
  raw.release();
  if (settings === null) {
    logText(LogLevel.Error, 'weir http: plugin configuration rejected: ' + problem[0] + '; expected JSON such as {"parser":"http","policy":"agent","endpoint":"web","direction":"ingress","port":8080}');
    return false;
  }
  rootSettings.set(rootId, settings);
  const binding = settings.agentPolicy;
  const source = binding !== null ? 'the agent\'s policy for endpoint ' + binding.endpoint + ' port ' + binding.port.toString() : settings.rules!.rules.length.toString() + ' static rules';
  logText(LogLevel.Info, 'weir http: configured, enforcing ' + source);
  return true;
}

// proxy_on_request_headers: the verdict. Pause (StopIteration) after a denial: Envoy sends the
// local reply and the router never sees the request.
export function onRequestHeaders(contextId: u32): u32 {
  if (!streams.has(contextId)) return Action.Continue;
  const stream = streams.get(contextId);
  enterCallbackScope();
  const allowed = decide(stream);
  finishAccessLogCallback(stream.rootContextId);
  leaveCallbackScope();
  if (allowed) return Action.Continue;
  sendDenial();
  return Action.Pause;
}

function logAllowed(stream: HttpStream, status: u64): void {
  const settings = settingsOf(stream.rootContextId);
  if (settings === null) return;
  const connection = connectionFor(stream.connectionId, settings, schema);
  const counted = connection.countAllowed(stream.requestLine, stream.methodLength, stream.pathLength, status, stream.attribution);
  // A new count needs a ticking root; a long count checks now and then that its root still ticks.
  if (counted == 1 || counted % TALLY_CHECK_REQUESTS == 0) askTallyTick(stream.rootContextId, nowMilliseconds());
  finishAccessLogCallback(stream.rootContextId);
}

// A count was opened: makes sure some root ticks until it is written.
function askTallyTick(rootContextId: u32, nowMs: u64): void {
  if (tallyRoot != 0 && nowMs >= tallyRootSeenMs && nowMs - tallyRootSeenMs < TALLY_STALE_MS) return;
  tallyRoot = rootContextId;
  tallyRootSeenMs = nowMs;
  setTickPeriod(ROOT_TICK_MS);
}

// proxy_on_tick on a root: writes the counts of allowed requests that are due and sends the
// access-log entries collected since the last tick. The root that writes counts keeps ticking
// while counts are open.
export function onRootTick(rootContextId: u32): void {
  enterCallbackScope();
  let ticking = false;
  if (rootContextId == tallyRoot) {
    const now = nowMilliseconds();
    tallyRootSeenMs = now;
    ticking = writeDueTallies(now, false);
    if (!ticking) tallyRoot = 0;
  }
  flushAccessLogOnTick(rootContextId);
  flushAccessLogNow(); // the counts written just now
  leaveCallbackScope();
  setTickPeriod(ticking ? ROOT_TICK_MS : 0);
}

// proxy_on_queue_ready: the agent published; the next request reads the new generation.
export function onQueueReady(token: u32): void {
  generationPushed(token);
}

// proxy_on_delete: a stream is over (an allowed request is counted with the status Envoy sent
// downstream, its own answers included; 0 when the stream was reset before any), or a root goes.
// Envoy deletes a stream's context from the filter's onDestroy, after the access-log phase and
// while the stream's information is still readable, so the count needs no proxy_on_log: one entry
// into the VM less per request.
export function deleteContext(contextId: u32): void {
  if (streams.has(contextId)) {
    const stream = streams.get(contextId);
    if (stream.verdict == Verdict.Allowed) {
      enterCallbackScope();
      logAllowed(stream, propertyU64('response.code', 0));
      leaveCallbackScope();
    }
    streams.delete(contextId);
    idleStreams.push(stream);
  } else if (rootSettings.has(contextId)) {
    // A root going away writes every count and sends what waited for its tick.
    if (contextId == tallyRoot) {
      enterCallbackScope();
      writeDueTallies(0, true);
      leaveCallbackScope();
      tallyRoot = 0;
    }
    flushAccessLogOnTick(contextId);
    flushAccessLogNow();
    generationPushRootDeleted(contextId);
    rootSettings.delete(contextId);
  }
}

function decide(stream: HttpStream): bool {
  const settings = settingsOf(stream.rootContextId);
  fields.clear();
  if (settings === null) {
    stream.verdict = Verdict.Denied; // Envoy accepted no configuration for this root: nothing to enforce with
    return false;
  }
  // Once per VM: until the agent pushes the generation here, it is read on every request.
  if (settings.agentPolicy !== null) subscribeToGenerationPush(stream.rootContextId);
  const connectionId = downstreamConnectionId();
  if (connectionId == NO_CONNECTION_ID) {
    // Without it the request could be decided with another connection's identity: fail closed.
    stream.verdict = Verdict.Denied;
    logText(LogLevel.Error, 'weir http: Envoy did not tell the downstream connection of a request; denied');
    return false;
  }
  stream.connectionId = connectionId;
  const connection = connectionFor(stream.connectionId, settings, schema);
  connection.update();
  if (!headers.read()) {
    stream.verdict = Verdict.Denied;
    fields.addNumber('status', <u64>DENIED_STATUS);
    connection.log(EntryType.Denied, fields, 'the request headers could not be read from Envoy; denied');
    return false;
  }
  if (record.keyCount < schema.keys.length) record = new RequestRecord(schema.keys.length);
  headers.fill(record, schema);
  const allowed = connection.allows(record);
  if (allowed) {
    stream.verdict = Verdict.Allowed;
    keepRequestLine(stream);
    connection.attributeAllowed(stream.attribution);
  } else {
    stream.verdict = Verdict.Denied;
    headers.addLogFields(fields);
    fields.addNumber('status', <u64>DENIED_STATUS);
    connection.log(EntryType.Denied, fields, 'no rule allows this request');
  }
  return allowed;
}

const NO_CONNECTION_ID: u64 = u64.MAX_VALUE;

// Envoy's id of the request's downstream connection. The top-level `connection_id` costs Envoy
// less than `connection.id` (no connection wrapper is built for it) and is read on every request;
// `connection.id` is the fallback for a host without it.
function downstreamConnectionId(): u64 {
  const id = propertyU64('connection_id', NO_CONNECTION_ID);
  return id != NO_CONNECTION_ID ? id : propertyU64('connection.id', NO_CONNECTION_ID);
}

function settingsOf(rootContextId: u32): PluginSettings | null {
  return rootSettings.has(rootContextId) ? rootSettings.get(rootContextId) : null;
}

// Copies method, path and host of the request being allowed, for its Request entry (the header
// reader is reused by the next stream, on HTTP/2 before this one ends).
function keepRequestLine(stream: HttpStream): void {
  const line = stream.requestLine;
  line.clear();
  stream.methodLength = copyRecordValue(line, 0);
  stream.pathLength = copyRecordValue(line, 1);
  copyRecordValue(line, 2);
}

function copyRecordValue(line: ByteBuffer, key: i32): i32 {
  const length = record.lengthOf(key);
  if (length <= 0) return 0;
  line.appendBytes(record.pointerOf(key), <usize>length);
  return length;
}

function sendDenial(): void {
  let body = deniedBody;
  let details = deniedDetails;
  if (body === null || details === null) {
    body = String.UTF8.encode(DENIED_BODY);
    details = String.UTF8.encode(DENIED_DETAILS);
    deniedBody = body;
    deniedDetails = details;
  }
  proxy_send_local_response(DENIED_STATUS, changetype<usize>(details), <usize>details.byteLength, changetype<usize>(body), <usize>body.byteLength, 0, 0, NO_GRPC_STATUS);
}
