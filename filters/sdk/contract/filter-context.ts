// Binds Envoy's per-plugin (root) and per-connection contexts to Weir's objects and runs each
// data callback: run the op loop over Envoy's bytes (copied into Wasm memory only as far as the
// parser reads them), make Envoy's buffer hold exactly the bytes to forward (at most one
// proxy_set_buffer_bytes call, none when they are the bytes Envoy handed over), and on an ERROR
// log the reason and hand the connection to closing.ts. Always answers Continue: holding bytes is
// done in Wasm memory, never by pausing Envoy. The raw exports are in module/exports.ts.
import { Connection, Direction } from './connection';
import { EntryType } from '../access-log/access-log';
import { ErrorCode } from './ops';
import { Parser, ParserFactory } from './parser';
import { PluginSettings } from './settings';
import { readPluginSettings } from './plugin-config';
import { parserFactory } from './registry';
import { runOpLoop } from './op-loop';
import { refreshOpTracing } from './op-trace';
import { ByteBuffer } from '../bytes/byte-buffer';
import { setRunningConnection } from './running-connection';
import { PORT_OF_DESTINATION } from '../policy/policy-config';
import { BufferType, LogLevel } from '../abi/imports';
import { appendHostBuffer, logText, propertyString, propertyU64, setTickPeriod } from '../abi/host';
import { closeDueConnections, closeIsDue, closeNow, forgetClosing, startClosing } from './closing';
import { enterCallbackScope, leaveCallbackScope } from '../abi/callback-scope';
import { finishAccessLogCallback, flushAccessLogOnTick } from '../access-log/access-log-queue';
import { PluginConfigOutcome, reportPluginConfiguration } from '../access-log/config-report';

class RootContext {
  settings: PluginSettings = new PluginSettings();
}

class ConnectionContext {
  constructor(
    public connection: Connection,
    public parser: Parser,
    public rootContextId: u32,
  ) {}
}

const roots = new Map<u32, RootContext>();
const connections = new Map<u32, ConnectionContext>();

export function createContext(contextId: u32, parentId: u32): void {
  if (parentId == 0) {
    roots.set(contextId, new RootContext());
    return;
  }
  const factory = parserFactory();
  if (factory === null) return;
  const settings = roots.has(parentId) ? roots.get(parentId).settings : new PluginSettings();
  const connection = new Connection(contextId, factory.protocol, settings, factory.ruleSchema());
  connections.set(contextId, new ConnectionContext(connection, factory.create(connection), parentId));
}

// proxy_on_configure: false refuses the configuration (Envoy NACKs it or does not start).
export function configureRoot(rootId: u32, configurationSize: u32): bool {
  const factory = parserFactory();
  if (factory === null) {
    logText(LogLevel.Error, 'weir: this module registered no parser; its entry file must call useParser(new <Name>Factory())');
    return false;
  }
  const raw = new ByteBuffer();
  if (!appendHostBuffer(BufferType.PluginConfiguration, configurationSize, raw)) {
    logText(LogLevel.Error, 'weir ' + factory.protocol + ': could not read the plugin configuration from Envoy');
    raw.release();
    return false;
  }
  const problem = new Array<string>();
  const settings = readPluginSettings(raw.readPtr, <i32>raw.length, factory, problem);
  raw.release();
  if (settings === null) {
    logText(LogLevel.Error, 'weir ' + factory.protocol + ': plugin configuration rejected: ' + problem[0] + '; expected JSON such as {"parser":"' + factory.protocol + '","maxBufferBytes":1048576}');
    reportPluginConfiguration(PluginConfigOutcome.Rejected, problem[0]);
    return false;
  }
  refreshOpTracing();
  if (!roots.has(rootId)) roots.set(rootId, new RootContext());
  roots.get(rootId).settings = settings;
  logText(LogLevel.Info, 'weir ' + factory.protocol + ': configured, maxBufferBytes=' + settings.maxBufferBytes.toString() + ', ' + enforcedText(settings));
  reportPluginConfiguration(PluginConfigOutcome.Configured, '');
  return true;
}

// What the start-up line says is enforced: the agent's policy for an endpoint (what `weir serve`
// publishes), static rules, or the parser's documented default.
function enforcedText(settings: PluginSettings): string {
  const binding = settings.agentPolicy;
  if (binding !== null) {
    const port = binding.port == PORT_OF_DESTINATION ? 'the destination port' : 'port ' + binding.port.toString();
    const peers = binding.spiffeTrustDomains.length == 0 ? '' : ', mTLS peers by SPIFFE ID from ' + binding.spiffeTrustDomains.join(', ');
    return 'the agent\'s policy for endpoint ' + binding.endpoint + ' (' + (binding.ingress ? 'ingress' : 'egress') + ', ' + port + peers + ')';
  }
  const rules = settings.rules;
  if (rules === null) return 'no rules (parser default)';
  const count = rules.rules.length;
  return count.toString() + (count == 1 ? ' static rule' : ' static rules');
}

export function onConnectionData(contextId: u32, direction: Direction, size: u32, endStream: bool): void {
  if (!connections.has(contextId)) return;
  const context = connections.get(contextId);
  const connection = context.connection;
  const stream = connection.streamOf(direction);
  stream.output.begin(hostBufferOf(direction), size, stream.input.length);
  setRunningConnection(connection);
  enterCallbackScope();
  if (!connection.failed) runCallback(context, direction, endStream);
  else if (direction == Direction.Reply && !connection.replyFailed && !closeIsDue(connection)) runCallback(context, direction, endStream);
  else discardWhileClosing(connection, direction);
  finishAccessLogCallback(context.rootContextId); // inside the scope: uses the callback's clock
  leaveCallbackScope();
  setRunningConnection(null);
}

// Envoy's legacy response flags (StreamInfo, the `response.flags` property): tcp_proxy sets UF when
// it could not connect to the upstream and UH when the cluster had no healthy host.
const NO_HEALTHY_UPSTREAM: u64 = 0x2;
const UPSTREAM_CONNECTION_FAILURE: u64 = 0x20;

// proxy_on_downstream_connection_close: a connection Envoy closed because it could not reach the
// server gets an Error entry saying so. Without it the client saw a silent close and the access
// log nothing at all.
export function onDownstreamClose(contextId: u32): void {
  if (!connections.has(contextId)) return;
  const context = connections.get(contextId);
  const connection = context.connection;
  if (connection.failed) return;
  const flags = propertyU64('response.flags', 0);
  if ((flags & (UPSTREAM_CONNECTION_FAILURE | NO_HEALTHY_UPSTREAM)) == 0) return;
  setRunningConnection(connection);
  enterCallbackScope();
  const detail = propertyString('upstream.transport_failure_reason', '');
  const what = (flags & UPSTREAM_CONNECTION_FAILURE) != 0 ? 'could not connect to the server' : 'found no healthy server in the cluster';
  connection.fields.clear();
  connection.fields.addString('upstream', 'unreachable');
  connection.log(EntryType.Error, 'upstream connection failed: Envoy ' + what + (detail.length > 0 ? ' (' + detail + ')' : '') +
    ', so it closed the client\'s connection; check that the server listens at the redirect\'s upstream address (weir status runs an upstreams check)');
  finishAccessLogCallback(context.rootContextId);
  leaveCallbackScope();
  setRunningConnection(null);
}

// proxy_on_tick on a root context: closes failed connections whose close is due and sends the
// access-log entries collected since the last tick; stops the ticks when neither needs more.
export function onRootTick(rootContextId: u32): void {
  flushAccessLogOnTick(rootContextId);
  if (!closeDueConnections(rootContextId)) setTickPeriod(0);
}

export function deleteContext(contextId: u32): void {
  if (connections.has(contextId)) {
    const connection = connections.get(contextId).connection;
    forgetClosing(connection);
    connection.release();
    connections.delete(contextId);
  } else if (roots.has(contextId)) {
    flushAccessLogOnTick(contextId); // a root going away sends what waited for its tick
    roots.delete(contextId);
  }
}

// One data callback of a healthy connection (or the reply side of a failed one that still owes
// replies): run the op loop over Envoy's bytes, then make Envoy's buffer hold exactly the bytes
// to forward. Envoy's bytes are copied into Wasm memory only as far as the parser reads them;
// those it forwards unchanged (the usual case: every request allowed, nothing held) stay in
// Envoy's buffer untouched (callback-buffer.ts).
function runCallback(context: ConnectionContext, direction: Direction, endStream: bool): void {
  const connection = context.connection;
  const stream = connection.streamOf(direction);
  const failure = runOpLoop(connection, context.parser, direction, endStream);
  stream.output.finish();
  if (failure != 0) failConnection(context, direction, failure);
  else if (stream.output.unreadable) failConnection(context, direction, ErrorCode.HostBufferUnreadable);
}

// A failed connection's bytes that nobody is owed are dropped; the close happens here when due
// (dropping this callback's bytes loses nothing), else on a later callback or tick.
function discardWhileClosing(connection: Connection, direction: Direction): void {
  const stream = connection.streamOf(direction);
  stream.input.clear();
  stream.output.finish();
  if (closeIsDue(connection)) closeNow(connection);
}

function hostBufferOf(direction: Direction): BufferType {
  return direction == Direction.Request ? BufferType.DownstreamData : BufferType.UpstreamData;
}

// ERROR: log why, stop parsing the failed direction (a request-side failure still lets the
// replies owed to forwarded requests through), and close without losing forwarded bytes.
function failConnection(context: ConnectionContext, direction: Direction, code: u32): void {
  const connection = context.connection;
  const alreadyFailed = connection.failed;
  connection.failed = true;
  connection.requestStream.input.clear();
  if (direction == Direction.Reply) {
    connection.replyFailed = true;
    connection.replyStream.input.clear();
  }
  connection.fields.clear();
  connection.fields.addString('direction', direction == Direction.Request ? 'request' : 'reply');
  connection.fields.addNumber('code', <u64>code);
  connection.log(EntryType.Error, errorReason(connection, direction, code) + '; connection closed');
  connection.errorDetail = '';
  if (!alreadyFailed) startClosing(connection, context.rootContextId, connection.streamOf(direction).output.length);
}

function errorReason(connection: Connection, direction: Direction, code: u32): string {
  const side = direction == Direction.Request ? 'request' : 'reply';
  const detail = connection.errorDetail.length > 0 ? ': ' + connection.errorDetail : '';
  if (code == ErrorCode.FrameTooLarge) {
    return side + ' frame exceeds maxBufferBytes (' + connection.settings.maxBufferBytes.toString() + ' bytes) without completing; raise maxBufferBytes in the plugin configuration if such frames are legitimate';
  }
  if (code == ErrorCode.InvalidFrameType) return 'malformed ' + side + ' frame' + detail;
  if (code == ErrorCode.InvalidFrameLength) return 'invalid ' + side + ' frame length' + detail;
  if (code == ErrorCode.TooManyPendingReplies) return 'too many denied requests waiting for earlier replies' + detail;
  if (code == ErrorCode.PolicyDenied) return 'denied by policy' + detail;
  if (code == ErrorCode.HostBufferUnreadable) return 'Envoy refused to hand over the ' + side + ' bytes it holds, so they could not be checked';
  if (code == ErrorCode.InvalidOpLength) return connection.protocol + ' parser bug: op with length 0 or unknown op on the ' + side + ' direction';
  if (code == ErrorCode.InjectOverflow) return connection.protocol + ' parser bug: INJECT of more bytes than were queued';
  if (code == ErrorCode.TooManyOps) return connection.protocol + ' parser bug: INJECT loop without consuming input';
  return connection.protocol + ' parser error code ' + code.toString() + ' on the ' + side + ' direction' + detail;
}
