// One proxied connection as a parser sees it: identity (id, protocol, addresses), its policy
// (rules and a reusable request record), the reply bookkeeping behind denials (expectReply, deny,
// endOfReply), injection, and access logging (with the attribution of each entry: direction,
// endpoint, identities, revision and the rule that allowed the request). Also holds the per-direction stream state the op
// loop (op-loop.ts) works on. Created when Envoy opens the connection, released on delete.
import { ByteBuffer } from '../bytes/byte-buffer';
import { ByteView } from '../bytes/byte-view';
import { CallbackBuffer } from '../abi/callback-buffer';
import { EntryType, LogFields } from '../access-log/access-log';
import { ConnectionEntries } from './connection-entries';
import { ReplyQueue, SlotKind } from '../replies/reply-queue';
import { RequestRecord, RuleSchema } from '../policy/rules';
import { RuleKeys } from '../policy/rule-keys';
import { Op, ErrorCode, drop, error, pass } from './parser';
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

  release(): void {
    this.input.release();
    this.output.release();
    this.injected.release();
  }
}

export class Connection {
  readonly requestStream: DirectionStream = new DirectionStream();
  readonly replyStream: DirectionStream = new DirectionStream();
  readonly replies: ReplyQueue = new ReplyQueue();
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

  // In-order replies: the request that stands in for a denied one when no reply is outstanding.
  private probe: ArrayBuffer | null = null;

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
  // rules this returns `whenNoRules`, so the parser decides its documented default. With
  // "policy": "agent" the policy the Weir agent published decides (policy-decision.ts).
  allows(whenNoRules: bool): bool {
    this.staticRule = -1;
    if (this.settings.agentPolicy !== null) return this.agentPolicy().decide(this.record);
    const rules = this.settings.rules;
    if (rules === null) return whenNoRules;
    this.staticRule = rules.matchingRule(this.record);
    return this.staticRule >= 0;
  }

  // Decides the request decoded into `record` and writes its Request or Denied entry: what the
  // parser put in `fields`, then the record's values under their declared log names (RuleKeys).
  // Without configured rules the request is allowed.
  decide(): bool {
    return this.decideAndLog(this.allows(true), '');
  }

  // decide(), except that without configured rules the request is denied with `reason` (a
  // parser's documented default, such as r2d2's C-3PO rule).
  decideDefaultDeny(reason: string): bool {
    return this.decideAndLog(this.allows(false), reason);
  }

  private decideAndLog(allowed: bool, noRulesReason: string): bool {
    this.logRecord();
    if (allowed) this.log(EntryType.Request, '');
    else this.log(EntryType.Denied, this.settings.rules === null && this.settings.agentPolicy === null ? noRulesReason : 'no rule allows this request');
    return allowed;
  }

  // Adds the record's values to `fields` under their declared log names, after what the parser
  // added (the first value of a key that has several).
  private logRecord(): void {
    const schema = this.schema;
    if (!(schema instanceof RuleKeys)) return;
    const declared = (<RuleKeys>schema).declared;
    const record = this.record;
    for (let key = 0; key < declared.length; key++) {
      if (record.has(key)) this.fields.addRecordValue(declared[key].logField, record.pointerOf(key), record.lengthOf(key));
    }
  }

  // Forwards the request (PASS `length`) and expects one reply to it, in order.
  forward(length: u32): Op {
    this.replies.expectServerReply();
    return pass(length);
  }

  // Replies come in request order; `probe` is the harmless request that replaces a denied one when
  // no reply is outstanding (its answer is rewritten into the deny reply). Set once, by the parser.
  answersInOrder(probe: ArrayBuffer): void {
    this.probe = probe;
  }

  // Drops the denied request (DROP `length`); `reply` reaches the client at its place among the
  // replies. ERROR TooManyPendingReplies when too many replies are owed.
  refuse(length: u32, reply: ArrayBuffer): Op {
    const probe = this.probe;
    if (probe === null || !this.deny(reply, probe)) return error(ErrorCode.TooManyPendingReplies);
    return drop(length);
  }

  // Reply direction: the frame about to be PASSed completes the oldest reply. Writes its Response
  // entry with what the parser put in `fields`, unless it answers one of the SDK's probes (the
  // denied request's entry stands for it).
  completeReply(): void {
    this.logResponse();
    this.endOfReply();
  }

  // Request direction: the request about to be PASSed will get one reply from the server.
  expectReply(): void {
    this.replies.expectServerReply();
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
  log(type: EntryType, reason: string): void {
    this.entries.write(type, this.fields, reason, this.id, this.policy, this.staticRule);
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
    this.requestStream.release();
    this.replyStream.release();
    this.fields.buffer.release();
    this.entries.release();
  }
}
