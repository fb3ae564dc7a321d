// Produce requests forwarded while they arrive, so a 1 MiB record batch is not held whole in the
// filter. A Produce request to one topic names that topic before its first record batch: once
// the prefix up to that batch is read (exactly as the broker reads it) and the topic allowed, the
// prefix is forwarded, each partition's record batch is PASSed as its bytes come (never copied or
// parsed), and the fields between and after the batches are read and checked before they are
// forwarded. The frame's last bytes reach the broker only after everything before them checked
// out, so a request that turns out malformed is never complete at the broker, which executes only
// complete requests. Requests naming several topics, or one the policy denies, are read whole
// (parser.ts). Versions 3+ (transactional id first); older versions are read whole.
import { ByteView, MALFORMED, NEED_MORE } from '../../sdk/index';
import { VarintReader, i16be, i32be } from './wire';

export const enum PrefixStatus {
  Ready = 0, // the prefix is read: stream the request
  NeedMore = 1, // the prefix has not arrived yet
  Whole = 2, // not streamable (several topics, no partitions, an old version): read it whole
  Malformed = 3,
}

export const enum SegmentStatus {
  Pass = 0, // forward `count` bytes
  NeedMore = 1,
  Malformed = 2,
  Done = 3, // the frame is complete
}

const FIRST_STREAMED_VERSION: i32 = 3;
const TOPIC_ID_VERSION: i32 = 13;

export class ProduceStream {
  // The prefix, from readPrefix(): where the topic is and where the first record batch starts.
  nameOffset: i32 = -1;
  nameLength: i32 = -1;
  idOffset: i32 = -1;
  acks: i32 = -1;
  prefixEnd: i32 = 0;
  // Streaming state: frame bytes not yet forwarded (0: not streaming), record bytes to PASS next
  // (-1: read the fields after a batch), partitions whose batch has not been forwarded.
  remaining: i32 = 0;
  // What the last segment() says to forward.
  count: i32 = 0;
  private records: i32 = -1;
  private partitionsLeft: i32 = 0;
  private flexible: bool = false;
  private varint: VarintReader = new VarintReader();

  get active(): bool {
    return this.remaining > 0;
  }

  // Reads the prefix of a Produce request whose body starts at `bodyStart` of `view` (the bytes
  // buffered so far of a frame of `frameLength`).
  readPrefix(view: ByteView, bodyStart: i32, version: i32, flexible: bool, frameLength: i32): PrefixStatus {
    if (version < FIRST_STREAMED_VERSION) return PrefixStatus.Whole;
    this.flexible = flexible;
    let at = this.skipString(view, bodyStart); // transactional_id
    if (at < 0) return this.prefixProblem(at, view, frameLength);
    if (!view.has(at, 6)) return this.prefixProblem(NEED_MORE, view, frameLength);
    this.acks = i16be(view, at);
    at += 6; // acks, timeout_ms
    const topics = this.count32(view, at);
    if (this.lengthStatus < 0) return this.prefixProblem(this.lengthStatus, view, frameLength);
    if (topics != 1) return PrefixStatus.Whole;
    at = this.lengthEnd;
    this.nameOffset = -1;
    this.idOffset = -1;
    if (version >= TOPIC_ID_VERSION) {
      if (!view.has(at, 16)) return this.prefixProblem(NEED_MORE, view, frameLength);
      this.idOffset = at;
      at += 16;
    } else {
      const end = this.skipString(view, at);
      if (end < 0) return this.prefixProblem(end, view, frameLength);
      if (this.stringNull) return PrefixStatus.Malformed; // a topic name is not nullable
      this.nameOffset = this.stringStart;
      this.nameLength = end - this.stringStart;
      at = end;
    }
    const partitions = this.count32(view, at);
    if (this.lengthStatus < 0) return this.prefixProblem(this.lengthStatus, view, frameLength);
    if (partitions <= 0) return PrefixStatus.Whole;
    at = this.lengthEnd;
    if (partitions > frameLength - at) return PrefixStatus.Malformed; // Kafka: a count above the bytes left
    if (!view.has(at, 4)) return this.prefixProblem(NEED_MORE, view, frameLength);
    at += 4; // partition index
    const records = this.count32(view, at);
    if (this.lengthStatus < 0) return this.prefixProblem(this.lengthStatus, view, frameLength);
    at = this.lengthEnd;
    if (records < 0 || records > frameLength - at) return PrefixStatus.Malformed; // records are not nullable here
    this.prefixEnd = at;
    this.records = records;
    this.partitionsLeft = partitions;
    return PrefixStatus.Ready;
  }

  // Starts streaming a frame of `frameLength` whose prefix the caller forwards now.
  begin(frameLength: i32): void {
    this.remaining = frameLength - this.prefixEnd;
  }

  // The next step over `data`, which starts where the last forwarded bytes ended.
  segment(data: ByteView): SegmentStatus {
    if (this.records > 0) {
      this.count = this.records;
      this.records = -1;
      this.remaining -= this.count;
      return SegmentStatus.Pass;
    }
    // State changes only once the whole segment is there: a NeedMore re-reads it from its start.
    let at = 0;
    if (this.flexible) at = this.skipTags(data, 0); // the partition's tagged fields
    if (at < 0) return this.segmentProblem(at, data);
    if (this.partitionsLeft > 1) {
      if (!data.has(at, 4)) return this.segmentProblem(NEED_MORE, data);
      at += 4; // partition index
      const records = this.count32(data, at);
      if (this.lengthStatus < 0) return this.segmentProblem(this.lengthStatus, data);
      at = this.lengthEnd;
      if (records < 0 || records > this.remaining - at) return SegmentStatus.Malformed;
      this.partitionsLeft--;
      this.records = records;
      return this.passSegment(at);
    }
    if (this.flexible) {
      at = this.skipTags(data, at); // the topic's tagged fields
      if (at >= 0) at = this.skipTags(data, at); // the request's
      if (at < 0) return this.segmentProblem(at, data);
    }
    if (at != this.remaining) return SegmentStatus.Malformed;
    this.partitionsLeft = 0;
    if (at == 0) {
      this.remaining = 0;
      return SegmentStatus.Done;
    }
    return this.passSegment(at);
  }

  private passSegment(length: i32): SegmentStatus {
    if (length > this.remaining) return SegmentStatus.Malformed;
    this.count = length;
    this.remaining -= length;
    return length == 0 ? this.segmentAfterEmpty() : SegmentStatus.Pass;
  }

  // A zero-length segment (a classic partition whose next field follows at once) forwards nothing.
  private segmentAfterEmpty(): SegmentStatus {
    return this.remaining == 0 ? SegmentStatus.Done : SegmentStatus.Pass;
  }

  private prefixProblem(code: i32, view: ByteView, frameLength: i32): PrefixStatus {
    if (code == NEED_MORE && view.length < frameLength) return PrefixStatus.NeedMore;
    return PrefixStatus.Malformed;
  }

  private segmentProblem(code: i32, data: ByteView): SegmentStatus {
    if (code == NEED_MORE && data.length < this.remaining) return SegmentStatus.NeedMore;
    return SegmentStatus.Malformed;
  }

  // The count or length (classic INT32 or compact varint - 1) at `at`, -1 for null; its end in
  // lengthEnd, and lengthStatus 0, NEED_MORE or MALFORMED.
  private lengthEnd: i32 = 0;
  private lengthStatus: i32 = 0;
  private count32(view: ByteView, at: i32): i32 {
    this.lengthStatus = 0;
    if (this.flexible) {
      const raw = this.varint.unsigned(view, at);
      if (this.varint.varintBytes < 0) {
        this.lengthStatus = this.varint.varintBytes;
        return -1;
      }
      this.lengthEnd = at + this.varint.varintBytes;
      const value = raw - 1;
      return value < 0 ? -1 : value;
    }
    if (!view.has(at, 4)) {
      this.lengthStatus = NEED_MORE;
      return -1;
    }
    this.lengthEnd = at + 4;
    const value = i32be(view, at);
    return value < 0 ? -1 : value;
  }

  // A (nullable) string at `at`: returns its end (or NEED_MORE / MALFORMED), its bytes' start in
  // stringStart, and whether it was null in stringNull.
  private stringStart: i32 = 0;
  private stringNull: bool = false;
  private skipString(view: ByteView, at: i32): i32 {
    let length: i32;
    if (this.flexible) {
      const raw = this.varint.unsigned(view, at);
      if (this.varint.varintBytes < 0) return this.varint.varintBytes;
      at += this.varint.varintBytes;
      length = raw - 1;
    } else {
      if (!view.has(at, 2)) return NEED_MORE;
      length = i16be(view, at);
      at += 2;
    }
    this.stringStart = at;
    this.stringNull = length < 0;
    if (length < 0) return at;
    if (length > 0x7fff) return MALFORMED;
    return view.has(at, length) ? at + length : NEED_MORE;
  }

  // Tagged fields none of which the Produce request knows: each skipped by its size.
  private skipTags(view: ByteView, at: i32): i32 {
    const varint = this.varint;
    const count = varint.unsigned(view, at);
    if (varint.varintBytes < 0) return varint.varintBytes;
    at += varint.varintBytes;
    for (let i = 0; i < count; i++) {
      varint.unsigned(view, at);
      if (varint.varintBytes < 0) return varint.varintBytes;
      at += varint.varintBytes;
      const size = varint.unsigned(view, at);
      if (varint.varintBytes < 0) return varint.varintBytes;
      if (size < 0) return MALFORMED;
      at += varint.varintBytes;
      if (!view.has(at, size)) return NEED_MORE;
      at += size;
    }
    return at;
  }
}
