// The stream-id strategy of reply-correlation.ts, for multiplexed protocols (CQL stream ids, and
// any protocol whose replies carry the id of the request they answer): replies are matched to
// requests by id, not by position, so a deny reply may reach the client at any reply frame
// boundary. Keeps the ids in flight at the server (forwarded requests and our probes), the deny
// replies waiting for a boundary, and the probes whose answer must be replaced by a deny reply.
// The parser frames both directions and writes the bytes (probes and deny replies may need
// protocol framing such as CQL v5 segments).
import { IdSet } from '../bytes/id-set';
import { Denial, MAX_PENDING_DENIALS, ReplyCorrelation } from './reply-correlation';

export class StreamReplies extends ReplyCorrelation {
  private inFlight: IdSet;
  private probeStreams: Array<i32> = new Array<i32>();
  private probeReplies: Array<ArrayBuffer> = new Array<ArrayBuffer>();
  private pending: Array<ArrayBuffer> = new Array<ArrayBuffer>();
  private pendingHead: i32 = 0;

  // Stream ids 0 .. maxIds - 1 (allocated once per connection, one bit each).
  constructor(maxIds: i32) {
    super();
    this.inFlight = new IdSet(maxIds);
  }

  // False when `streamId` is out of range or already in flight (the caller refuses such requests first).
  expect(streamId: i32): bool {
    return this.inFlight.add(streamId);
  }

  deny(streamId: i32, denyReply: ArrayBuffer): Denial {
    if (this.probeStreams.length + this.pendingCount >= MAX_PENDING_DENIALS) return Denial.Full;
    if (this.inFlight.count > 0) {
      this.pending.push(denyReply);
      return Denial.Queued;
    }
    this.probeStreams.push(streamId);
    this.probeReplies.push(denyReply);
    this.inFlight.add(streamId);
    return Denial.Probe;
  }

  // `streamId` >= 0 (server-initiated frames such as CQL events answer nothing; check awaits()
  // first: a reply on an id not in flight cannot be squared with the requests).
  answered(streamId: i32): ArrayBuffer | null {
    this.inFlight.remove(streamId);
    for (let i = 0; i < this.probeStreams.length; i++) {
      if (this.probeStreams[i] != streamId) continue;
      const denyReply = this.probeReplies[i];
      this.probeStreams.splice(i, 1);
      this.probeReplies.splice(i, 1);
      return denyReply;
    }
    return null;
  }

  takeDue(): ArrayBuffer | null {
    if (!this.hasDue) return null;
    const denyReply = this.pending[this.pendingHead];
    this.pendingHead += 1;
    if (this.pendingHead >= this.pending.length) {
      this.pending.length = 0;
      this.pendingHead = 0;
    }
    return denyReply;
  }

  awaits(streamId: i32): bool {
    return this.inFlight.has(streamId);
  }

  get fullDetail(): string {
    return '';
  }

  // True when deny replies wait for the next reply boundary.
  get hasDue(): bool {
    return this.pendingHead < this.pending.length;
  }

  private get pendingCount(): i32 {
    return this.pending.length - this.pendingHead;
  }
}
