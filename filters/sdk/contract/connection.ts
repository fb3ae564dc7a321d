// One proxied connection as a parser sees it: identity (id, protocol, addresses), its policy
// (rules and a reusable request record; decide() also writes the Request or Denied entry), reply
// correlation behind denials (one strategy per connection, reply-correlation.ts: forward,
// refuse, completeReply, answered), replacing a frame (replace: INJECT, then the SDK DROPs the
// frame), byte buffers freed with the connection, and access logging (each entry attributed:
// direction, endpoint, identities, revision and the rule that allowed the request). Also holds
// the per-direction stream state the op loop (op-loop.ts) works on. Created when Envoy opens the
// connection, released on delete.
import { ByteBuffer } from '../bytes/byte-buffer';
import { ByteView } from '../bytes/byte-view';
import { CallbackBuffer } from '../abi/callback-buffer';
import { EntryType, LogFields } from '../access-log/access-log';
import { ConnectionEntries, EntryBasis } from './connection-entries';
import { ReplyQueue, SlotKind } from '../replies/reply-queue';
import { Denial, ReplyCorrelation } from '../replies/reply-correlation';
import { ProbeAnswers } from '../replies/probe-answers';
import { StreamReplies } from '../replies/stream-replies';
import { RequestRecord, RuleSchema } from '../policy/rules';
import { RuleKey, RuleKeys } from '../policy/rule-keys';
import { Op, ErrorCode, drop, error, inject, pass } from './ops';
import { PluginSettings } from './settings';
import { propertyString, propertyU64 } from '../abi/host';
import { ConnectionPolicy } from '../policy/policy-decision';

export const enum Direction {
  Request = 0, // client -> server (Envoy: downstream data)
  Reply = 1, // server -> client (Envoy: upstream data)
}

// What the op loop keeps for one direction between Envoy callbacks.
export class DirectionStream {
  input: ByteBuffer = new ByteBuffer(); // bytes not yet passed or dropped
  output: CallbackBuffer = new CallbackBuffer(); // Envoy's bytes of this callback, and what it forwards
  injected: ByteBuffer = new ByteBuffer(); // bytes queued by injectHere() for an INJECT op
  view: ByteView = new ByteView();
  passAhead: u64 = 0; // PASS bytes not yet arrived
  dropAhead: u64 = 0; // DROP bytes not yet arrived
  needBuffered: u64 = 0; // do not call the parser until this many bytes are buffered
  dropAfterInject: u32 = 0; // bytes of the replaced frame to DROP once the INJECT is out (replace())

  release(): void {
    this.input.release();
    this.output.release();
    this.injected.release();
  }
}

export class Connection {
  readonly requestStream: DirectionStream = new DirectionStream();
  readonly replyStream: DirectionStream = new DirectionStream();
  // In-order replies (the op loop and closing read this queue); the default strategy.
  readonly replies: ReplyQueue = new ReplyQueue();
  // The parser's reply-correlation strategy (answersInOrder / answersByProbe / answersByStreamId).
  private correlation: ReplyCorrelation = this.replies;
  readonly record: RequestRecord;
  readonly fields: LogFields = new LogFields();
  // Its access-log entries: what each repeats and what decided it (connection-entries.ts).
  private entries: ConnectionEntries;
  // With static rules: the index of the rule that allowed the last request (-1: none).
  private staticRule: i32 = -1;
  private connectionId: u64 = 0;
  // Set when the connection failed (ERROR op): later request bytes are discarded, replies owed
  // to requests already forwarded still pass, then the connection closes (closing.ts).
  failed: bool = false;
  // Set when the reply direction failed too (or first): later reply bytes are discarded.
  replyFailed: bool = false;
  // After an ERROR: when to stop waiting for owed replies, and whether the close was asked for.
  closeDeadlineMs: u64 = 0;
  closeRequested: bool = false;
  // Optional detail the parser gives for its next ERROR op; logged as the reason.
  errorDetail: string = '';

  // The request that stands in for a denied one when no reply is outstanding (answersInOrder).
  private probe: ArrayBuffer | null = null;
  // The direction the op loop is parsing, and whether the request being parsed was decided
  // (its entries then carry the policy's reason); both set per parser call (beginParse).
  private parsing: Direction = Direction.Request;
  private decided: bool = false;
  // Buffers the parser asked for (buffer()), freed with the connection.
  private owned: Array<ByteBuffer> = new Array<ByteBuffer>();

  constructor(
    readonly contextId: u32,
    readonly protocol: string,
    readonly settings: PluginSettings,
    private schema: RuleSchema,
  ) {
    this.record = new RequestRecord(schema.keys.length);
    this.entries = new ConnectionEntries(protocol, settings);
  }

  // Envoy's connection id (as in Envoy's own logs), or the Proxy-Wasm context id if unavailable.
  get id(): u64 {
    if (this.connectionId == 0) this.connectionId = propertyU64('connection.id', <u64>this.contextId);
    return this.connectionId;
  }

  // "ip:port" of the client and of the address it connected to (allocates; not for the hot path).
  sourceAddress(): string {
    return propertyString('source.address', '');
  }

  destinationAddress(): string {
    return propertyString('destination.address', '');
  }

  sourcePort(): u64 {
    return propertyU64('source.port', 0);
  }

  destinationPort(): u64 {
    return propertyU64('destination.port', 0);
  }

  // True when the configured rules allow the request decoded into `record`. Without configured
  // rules this returns `whenNoRules` (see allowsRequest, decide, decideDefaultDeny). With
  // "policy": "agent" the policy the Weir agent published decides (policy-decision.ts).
  private allows(whenNoRules: bool): bool {
    this.staticRule = -1;
    this.decided = true;
    if (this.settings.agentPolicy !== null) return this.agentPolicy().decide(this.record);
    const rules = this.settings.rules;
    if (rules === null) return whenNoRules;
    this.staticRule = rules.matchingRule(this.record);
    return this.staticRule >= 0;
  }

  // allows(), where without configured rules every request is allowed: for a parser that logs
  // its own entries (one per statement of a request, say).
  allowsRequest(): bool {
    return this.allows(true);
  }

  // Decides the request decoded into `record` and writes its Request or Denied entry: what the
  // parser put in `fields`, then the record's values under their declared log names (RuleKeys).
  // Without configured rules the request is allowed. `deniedNote` is added to a denial's reason
  // in parentheses (what the client gets instead, say).
  decide(deniedNote: string = ''): bool {
    return this.decideAndLog(this.allows(true), '', deniedNote);
  }

  // decide(), except that without configured rules the request is denied with `reason` (a
  // parser's documented default, such as r2d2's C-3PO rule).
  decideDefaultDeny(reason: string): bool {
    return this.decideAndLog(this.allows(false), reason, '');
  }

  private decideAndLog(allowed: bool, noRulesReason: string, deniedNote: string): bool {
    this.logRecord();
    if (allowed) {
      this.log(EntryType.Request, '');
      return true;
    }
    const reason = this.settings.rules === null && this.settings.agentPolicy === null ? noRulesReason : 'no rule allows this request';
    this.log(EntryType.Denied, deniedNote.length > 0 ? reason + ' (' + deniedNote + ')' : reason);
    return false;
  }

  // Adds the record's values to `fields` under their declared log names, after what the parser
  // added: every value of a key that has several, separated by a space; keys declared with the
  // same log name (memcached's three key constraints) fill it once.
  private logRecord(): void {
    const schema = this.schema;
    if (!(schema instanceof RuleKeys)) return;
    const declared = (<RuleKeys>schema).declared;
    const record = this.record;
    for (let key = 0; key < declared.length; key++) {
      if (!record.has(key) || declared[key].logField.length == 0 || loggedBefore(declared, key, record)) continue;
      const fields = this.fields.addRecordValue(declared[key].logField, record.pointerOf(key), record.lengthOf(key));
      for (let i = 1; i < record.valueCount(key); i++) fields.appendToLastValue(record.pointerOfValue(key, i), record.lengthOfValue(key, i));
    }
  }

  // Replies match requests as `correlation` says (reply-correlation.ts); set once, by the parser.
  // In order: `probe` is the harmless request that replaces a denied one when no reply is
  // outstanding (its answer is rewritten into the deny reply).
  answersInOrder(probe: ArrayBuffer): void {
    this.probe = probe;
    this.correlation = this.replies;
  }

  // Only answers like the probe's are recognisable (`probeKind` names them for the Error entry
  // when too many wait); every denial is a probe the parser passes to refuse().
  answersByProbe(probeKind: string): void {
    this.correlation = new ProbeAnswers(probeKind);
  }

  // Replies carry their request's stream id, 0 .. maxIds - 1.
  answersByStreamId(maxIds: i32): void {
    this.correlation = new StreamReplies(maxIds);
  }

  // Forwards the request (PASS `length`); it will be answered (on `replyId`, see
  // reply-correlation.ts; in order: one reply, in turn).
  forward(length: u32, replyId: i32 = 0): Op {
    if (!this.expectReply(replyId)) return this.tooManyPending();
    return pass(length);
  }

  // Drops the denied request (DROP `length`); `reply` reaches the client at its place among the
  // replies: queued behind outstanding replies, or through `probe` (default: the probe of
  // answersInOrder), which replaces the request and whose answer is rewritten into `reply`.
  // ERROR TooManyPendingReplies when too many replies are owed.
  refuse(length: u32, reply: ArrayBuffer, probe: ArrayBuffer | null = null, replyId: i32 = 0): Op {
    const denial = this.denyOn(replyId, reply);
    if (denial == Denial.Full) return this.tooManyPending();
    if (denial == Denial.Queued) return drop(length);
    const stand = probe !== null ? probe : this.probe;
    if (stand === null) return this.tooManyPending(); // answersInOrder was never called: a parser bug
    return this.replace(length, stand);
  }

  // Request direction, for a parser that writes the probe itself (several requests in one
  // frame): where the denied request's reply goes (reply-correlation.ts). On Denial.Full return
  // tooManyPending().
  denyOn(replyId: i32, reply: ArrayBuffer): Denial {
    return this.correlation.deny(replyId, reply);
  }

  // The ERROR op for too many replies owed, with the strategy's detail.
  tooManyPending(): Op {
    this.errorDetail = this.correlation.fullDetail;
    return error(ErrorCode.TooManyPendingReplies);
  }

  // Reply direction (probe-answer and stream-id strategies): a whole reply on `replyId` arrived.
  // The deny reply that must replace it (replace()) when it answers one of our probes, else null.
  answered(replyId: i32): ArrayBuffer | null {
    return this.correlation.answered(replyId);
  }

  // Reply direction, at a reply boundary: the oldest deny reply whose turn has come, or null.
  takeDueReply(): ArrayBuffer | null {
    return this.correlation.takeDue();
  }

  // True when a reply on `replyId` is awaited.
  awaitsReply(replyId: i32): bool {
    return this.correlation.awaits(replyId);
  }

  // Emits `bytes` where the current frame starts (INJECT), then the SDK DROPs the frame's
  // `length` bytes before the parser is called again; bytes may be empty (a plain DROP).
  replace(length: u32, bytes: ArrayBuffer): Op {
    if (bytes.byteLength == 0) return drop(length);
    this.injectHere(this.parsing, bytes);
    this.streamOf(this.parsing).dropAfterInject = length;
    return inject(<u32>bytes.byteLength);
  }

  // False when a frame of `length` bytes could never be buffered whole (maxBufferBytes): the
  // parser then returns tooLarge() instead of asking for more bytes.
  fitsBuffer(length: i64): bool {
    return length <= <i64>this.settings.maxBufferBytes;
  }

  // The ERROR op with `code` for a `noun` ("CQL frame") of `length` bytes that does not fit the
  // buffer.
  tooLarge(length: i64, noun: string, code: ErrorCode = ErrorCode.InvalidFrameLength): Op {
    const limit = this.settings.maxBufferBytes.toString();
    this.errorDetail = noun + ' of ' + length.toString() + ' bytes exceeds maxBufferBytes (' + limit + '); raise maxBufferBytes in the plugin configuration if such frames are legitimate';
    return error(code);
  }

  // A byte buffer for the parser's own bytes (names it normalises, frames it reassembles or
  // rebuilds), freed when the connection closes. Ask once, in ParserFactory.create.
  buffer(): ByteBuffer {
    const buffer = new ByteBuffer();
    this.owned.push(buffer);
    return buffer;
  }

  // Called by the op loop before each parser call.
  beginParse(direction: Direction): void {
    this.parsing = direction;
    this.decided = false;
    this.replyEnded = false;
  }

  // Reply direction: the frame about to be PASSed completes the oldest reply. Writes its Response
  // entry with what the parser put in `fields`, unless it answers one of the SDK's probes (the
  // denied request's entry stands for it).
  completeReply(): void {
    this.logResponse();
    this.endOfReply();
  }

  // Request direction: the request about to be PASSed will be answered (on `replyId`); false
  // when too many entries wait (then return tooManyPending()).
  expectReply(replyId: i32 = 0): bool {
    return this.correlation.expect(replyId);
  }

  // Request direction: the request about to be DROPped is denied. Its deny reply reaches the
  // client at the request's position among replies: queued behind outstanding replies, or, when
  // none is outstanding, the request is replaced by `probe` (which the server answers harmlessly)
  // and that answer is rewritten into `denyReply`. Returns false when too many replies are
  // pending; the parser should then return ERROR TooManyPendingReplies.
  deny(denyReply: ArrayBuffer, probe: ArrayBuffer): bool {
    if (this.replies.isFull) return false;
    if (this.replies.isEmpty) {
      this.requestStream.output.appendArrayBuffer(probe);
      this.replies.pushProbe(denyReply);
    } else {
      this.replies.pushDenied(denyReply);
    }
    return true;
  }

  // Reply direction: the frame about to be PASSed completes the oldest outstanding reply (or about
  // to be DROPped, when the parser INJECTed a rewritten reply in its place).
  endOfReply(): void {
    this.replyEnded = true;
  }
  replyEnded: bool = false;

  // Queues bytes for an INJECT op in `direction` (the direction being parsed); the op then
  // emits them at the current stream position.
  injectHere(direction: Direction, bytes: ArrayBuffer): void {
    this.streamOf(direction).injected.appendArrayBuffer(bytes);
  }

  // Queues bytes toward the client at the current request position among replies (like a deny
  // reply, without a probe): they are written once every earlier reply has passed, on the next
  // bytes the server sends.
  injectReply(bytes: ArrayBuffer): bool {
    if (this.replies.isFull) return false;
    this.replies.pushDenied(bytes);
    return true;
  }

  // Writes one access-log entry with the fields the parser put in `fields`, then clears them.
  // A Denied entry after the agent's policy denied carries the policy's reason.
  // Every entry carries the revision and both identities when the agent's policy applies, also
  // when the parser wrote it without a decision (a refused statement, an Error entry).
  log(type: EntryType, reason: string): void {
    if (this.settings.agentPolicy !== null && !this.decided) this.agentPolicy().update();
    this.logAsIs(type, reason);
  }

  // log() without reading the agent's policy first: for the abort handler (module/abort.ts),
  // which must not reach code whose globals may not be set up yet.
  logAsIs(type: EntryType, reason: string): void {
    this.entries.write(type, this.fields, reason, this.id, this.policy, this.staticRule, this.decided ? EntryBasis.Decision : EntryBasis.Connection);
    this.fields.clear();
  }

  // Reply direction: logs a Response entry with the fields the parser put in `fields` (e.g. the
  // reply's status), then clears them. Call it before the op that passes the reply's last frame.
  // A reply that answers one of the SDK's probes is the denied request's reply, already logged as
  // Denied: then nothing is logged and this returns false.
  logResponse(): bool {
    if (this.replies.headKind() == SlotKind.Probe) {
      this.fields.clear();
      return false;
    }
    this.log(EntryType.Response, '');
    return true;
  }

  // The connection's view of the agent's policy, made on first use.
  private policy: ConnectionPolicy | null = null;
  private agentPolicy(): ConnectionPolicy {
    let policy = this.policy;
    if (policy === null) {
      const binding = this.settings.agentPolicy;
      policy = new ConnectionPolicy(binding!, this.schema, this.protocol);
      this.policy = policy;
    }
    return policy;
  }

  streamOf(direction: Direction): DirectionStream {
    return direction == Direction.Request ? this.requestStream : this.replyStream;
  }

  release(): void {
    for (let i = 0; i < this.owned.length; i++) this.owned[i].release();
    this.requestStream.release();
    this.replyStream.release();
    this.fields.release();
    this.entries.release();
  }
}

// True when an earlier declared key with the same log name has a value (it filled the field).
function loggedBefore(declared: Array<RuleKey>, key: i32, record: RequestRecord): bool {
  const field = declared[key].logField;
  for (let other = 0; other < key; other++) if (declared[other].logField == field && record.has(other)) return true;
  return false;
}
