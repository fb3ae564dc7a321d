// The agent's access-log shipper: consumes the shared queue `weir/accesslog` that parser VMs fill
// (filters/sdk/access-log-queue.ts), numbers each entry, holds entries in a bounded buffer until
// the server acknowledges them, and sends them in batches over one weir.AccessLogService stream on
// the weir-xds cluster, reconnecting with backoff and resending what was not acknowledged. Every
// entry is either acknowledged or counted: parser-side enqueue failures (shared-data counter
// `weir/accesslog/dropped`), a full buffer (`buffer`, dropped before numbering, so the sequence has
// no gaps), or an empty entry or a message not in the queue's framing (`malformed`). Entries
// travel as the parser VMs encoded them. docs/accesslog.md has the whole path.
import { LogLevel, Status, proxy_dequeue_shared_queue, proxy_register_shared_queue } from '../sdk/abi/imports';
import { ACCESS_LOG_DROPPED_KEY, ACCESS_LOG_QUEUE, ENTRY_LENGTH_BYTES } from '../sdk/access-log/access-log-wire';
import { logText, nowMilliseconds, nowNanoseconds } from '../sdk/abi/host';
import { ByteBuffer } from '../sdk/bytes/byte-buffer';
import { readSharedData } from '../sdk/policy/policy-shared-data';
import { BatchWriter, DropCounts, decodeAckedSequence } from './accesslog-batch';
import { cancelGrpcStream, grpcCloseMessage, openGrpcStream, readGrpcMessage, sendGrpcMessage } from './grpc-calls';

const ACCESS_LOG_SERVICE = 'weir.AccessLogService';
const ACCESS_LOG_METHOD = 'StreamAccessLogs';
const INITIAL_BACKOFF_MS: u64 = 250;
const MAX_BACKOFF_MS: u64 = 5000;
// Entries per batch, and entries sent but not yet acknowledged on one stream.
const BATCH_ENTRIES: i32 = 256;
const MAX_IN_FLIGHT: i32 = 8192;

// Return slots: [0] token / pointer, [8] length.
const slots: usize = memory.data(16);
const EMPTY_ENTRY = new ArrayBuffer(0);

export const DEFAULT_ACCESS_LOG_BUFFER_ENTRIES: i32 = 65536;

export class AccessLogShipper {
  private token: u32 = 0; // 0: no stream open
  private queueToken: u32 = 0;
  private retryAtMs: u64 = 0;
  private backoffMs: u64 = INITIAL_BACKOFF_MS;
  private readonly run: u64;
  // Ring of held entries: `count` entries from `head`; the oldest has sequence `firstSequence`.
  private entries: Array<ArrayBuffer | null>;
  private head: i32 = 0;
  private count: i32 = 0;
  private firstSequence: u64 = 1;
  // Held entries (from the oldest) already sent on the current stream.
  private sentCount: i32 = 0;
  private drops: DropCounts = new DropCounts();
  private reportedDrops: DropCounts = new DropCounts();
  private writer: BatchWriter = new BatchWriter();
  private received: ByteBuffer = new ByteBuffer();
  private warnedOfFraming: bool = false;

  constructor(
    private nodeId: string,
    private cluster: string,
    private capacity: i32 = DEFAULT_ACCESS_LOG_BUFFER_ENTRIES,
  ) {
    this.entries = new Array<ArrayBuffer | null>(capacity);
    this.run = nowNanoseconds();
  }

  // Registers the queue parsers write to (vm_id `weir`, this VM's id). False if Envoy refused.
  start(): bool {
    const name = String.UTF8.encode(ACCESS_LOG_QUEUE);
    store<u32>(slots, 0);
    if (proxy_register_shared_queue(changetype<usize>(name), <usize>name.byteLength, slots) != Status.Ok) {
      logText(LogLevel.Error, 'weir agent: could not register the shared queue ' + ACCESS_LOG_QUEUE + '; access logs stay in the proxy log only');
      return false;
    }
    this.queueToken = load<u32>(slots);
    return true;
  }

  onQueueReady(token: u32): bool {
    if (token != this.queueToken || token == 0) return false;
    this.drainQueue();
    this.flush();
    return true;
  }

  onTick(): void {
    if (this.queueToken != 0) this.drainQueue();
    if (this.token == 0 && nowMilliseconds() >= this.retryAtMs) this.connect();
    this.flush();
  }

  // True when the message belonged to the access-log stream.
  onMessage(token: u32, size: u32): bool {
    if (token != this.token || token == 0) return false;
    this.received.clear();
    if (!readGrpcMessage(size, this.received)) return true;
    const acked = decodeAckedSequence(this.received.readPtr, <i32>this.received.length);
    if (acked < 0) {
      logText(LogLevel.Warn, 'weir agent: malformed AccessLogAck from ' + this.cluster + '; ignored');
      return true;
    }
    this.backoffMs = INITIAL_BACKOFF_MS;
    this.release(<u64>acked);
    this.flush();
    return true;
  }

  onClose(token: u32, status: u32): bool {
    if (token != this.token || token == 0) return false;
    const message = grpcCloseMessage();
    this.token = 0;
    this.sentCount = 0; // unacknowledged entries are resent on the next stream
    this.retryAtMs = nowMilliseconds() + this.backoffMs;
    logText(LogLevel.Warn, 'weir agent: access-log stream to ' + this.cluster + ' closed (grpc-status ' + status.toString() + (message.length > 0 ? ': ' + message : '') + '); ' + this.count.toString() + ' entries held, reconnecting in ' + this.backoffMs.toString() + ' ms');
    this.backoffMs = this.backoffMs * 2 > MAX_BACKOFF_MS ? MAX_BACKOFF_MS : this.backoffMs * 2;
    return true;
  }

  stop(): void {
    if (this.token != 0) cancelGrpcStream(this.token);
    this.token = 0;
  }

  // Takes every message off the queue; a message holds one or more entries, each after its length
  // (filters/sdk/access-log/access-log-wire.ts).
  private drainQueue(): void {
    while (true) {
      store<usize>(slots, 0);
      store<usize>(slots + 8, 0);
      if (proxy_dequeue_shared_queue(this.queueToken, slots, slots + 8) != Status.Ok) return;
      const pointer = load<usize>(slots);
      const size = load<usize>(slots + 8);
      if (pointer == 0 || size == 0) {
        this.drops.malformed += 1;
        if (pointer != 0) heap.free(pointer);
        continue;
      }
      this.holdEntries(pointer, size);
      heap.free(pointer);
    }
  }

  // Keeps the entries of one message; the rest of a message whose framing breaks counts as one
  // malformed entry.
  private holdEntries(pointer: usize, size: usize): void {
    let at: usize = 0;
    while (at < size) {
      const left = size - at;
      const length = left >= ENTRY_LENGTH_BYTES ? <usize>load<u32>(pointer + at) : left; // safe: ENTRY_LENGTH_BYTES left
      if (left < ENTRY_LENGTH_BYTES || length > left - ENTRY_LENGTH_BYTES) {
        this.drops.malformed += 1;
        this.warnOfFraming();
        return;
      }
      this.hold(pointer + at + ENTRY_LENGTH_BYTES, length);
      at += ENTRY_LENGTH_BYTES + length;
    }
  }

  // Once per run: a message the agent cannot frame comes from a parser module built with another
  // SDK (before entries were protobuf, they were JSON lines).
  private warnOfFraming(): void {
    if (this.warnedOfFraming) return;
    this.warnedOfFraming = true;
    logText(LogLevel.Warn, 'weir agent: a parser VM sent an access-log message this agent cannot read (a module built with another Weir SDK?); its entries are counted as malformed. Rebuild the module with this Weir (npm run build:filters)');
  }

  // Keeps one entry of a queue message (an empty one is malformed), or counts it as dropped when
  // the buffer is full.
  private hold(entryPtr: usize, entryLength: usize): void {
    if (entryLength == 0) {
      this.drops.malformed += 1;
      return;
    }
    if (this.count == this.capacity) {
      this.drops.buffer += 1; // dropped before numbering: no gap in the sequence
      return;
    }
    const copy = new ArrayBuffer(<i32>entryLength);
    memory.copy(changetype<usize>(copy), entryPtr, entryLength);
    this.entries[(this.head + this.count) % this.capacity] = copy;
    this.count += 1;
  }

  private connect(): void {
    const token = openGrpcStream(this.cluster, ACCESS_LOG_SERVICE, ACCESS_LOG_METHOD);
    if (token == 0) {
      this.retryAtMs = nowMilliseconds() + this.backoffMs;
      this.backoffMs = this.backoffMs * 2 > MAX_BACKOFF_MS ? MAX_BACKOFF_MS : this.backoffMs * 2;
      return;
    }
    this.token = token;
    this.sentCount = 0;
    logText(LogLevel.Info, 'weir agent: access-log stream to ' + this.cluster + ' opened as node ' + this.nodeId + ' (' + this.count.toString() + ' entries held)');
    this.sendBatch(0); // announces the node and the drop counters at once
  }

  // Sends held entries not yet sent, in batches, while the in-flight window allows; sends an empty
  // batch when only the drop counters changed.
  private flush(): void {
    if (this.token == 0) return;
    this.readQueueDrops();
    while (this.token != 0 && this.sentCount < this.count && this.sentCount < MAX_IN_FLIGHT) {
      const available = this.count - this.sentCount;
      if (!this.sendBatch(available < BATCH_ENTRIES ? available : BATCH_ENTRIES)) return;
    }
    if (this.token != 0 && this.dropsChanged()) this.sendBatch(0);
  }

  private sendBatch(entryCount: i32): bool {
    this.writer.begin(this.nodeId, this.run, this.firstSequence + <u64>this.sentCount);
    for (let i = 0; i < entryCount; i++) {
      const entry = this.entries[(this.head + this.sentCount + i) % this.capacity];
      this.writer.addEntry(entry !== null ? entry : EMPTY_ENTRY); // never null: slots below head + count are filled
    }
    const message = this.writer.finish(this.drops);
    if (!sendGrpcMessage(this.token, message)) {
      logText(LogLevel.Warn, 'weir agent: could not send an access-log batch; reopening the stream in ' + this.backoffMs.toString() + ' ms');
      cancelGrpcStream(this.token);
      this.token = 0;
      this.sentCount = 0;
      this.retryAtMs = nowMilliseconds() + this.backoffMs;
      return false;
    }
    this.sentCount += entryCount;
    this.reportedDrops.queue = this.drops.queue;
    this.reportedDrops.buffer = this.drops.buffer;
    this.reportedDrops.malformed = this.drops.malformed;
    return true;
  }

  // Forgets entries up to `acked`: the server holds them.
  private release(acked: u64): void {
    if (acked < this.firstSequence) return;
    const releasable = acked - this.firstSequence + 1;
    const released = releasable > <u64>this.count ? this.count : <i32>releasable;
    for (let i = 0; i < released; i++) this.entries[(this.head + i) % this.capacity] = null;
    this.head = (this.head + released) % this.capacity;
    this.count -= released;
    this.firstSequence += <u64>released;
    this.sentCount = this.sentCount > released ? this.sentCount - released : 0;
  }

  private readQueueDrops(): void {
    const value = readSharedData(ACCESS_LOG_DROPPED_KEY);
    if (value !== null && value.byteLength == 8) this.drops.queue = load<u64>(changetype<usize>(value));
  }

  private dropsChanged(): bool {
    return this.drops.queue != this.reportedDrops.queue || this.drops.buffer != this.reportedDrops.buffer || this.drops.malformed != this.reportedDrops.malformed;
  }
}
