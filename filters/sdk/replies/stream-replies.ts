// Reply bookkeeping for multiplexed protocols (CQL stream ids, and any protocol whose replies
// carry the id of the request they answer): replies are matched to requests by stream id, not by
// position, so a deny reply may reach the client at any reply frame boundary. Keeps how many
// forwarded requests still await a reply, the deny replies waiting for a boundary, and the probes
// whose answer (recognised by stream id) must be replaced by a deny reply. The parser frames both
// directions and writes the bytes (probes and deny replies may need protocol framing such as CQL
// v5 segments), and makes one StreamReplies per connection in ParserFactory.create(); the FIFO
// bookkeeping for ordered protocols is reply-queue.ts (Connection.deny/endOfReply).

// What deny() decided for one denied request.
export const enum StreamDenial {
  // A reply is outstanding: the deny reply waits in the pending list; the parser emits it at the
  // next reply frame boundary (takePending) and the server never sees the request.
  Queued = 0,
  // Nothing is outstanding: the parser forwards a probe on the same stream id in place of the
  // request; replied(streamId) hands back the deny reply when the probe's answer arrives.
  Probe = 1,
  // Too many deny replies are waiting; the parser should fail the connection
  // (ErrorCode.TooManyPendingReplies).
  Full = 2,
}

// Bounds probes plus pending deny replies, so a client that sends denied requests without
// reading cannot grow memory without limit.
export const MAX_STREAM_DENIALS: i32 = 4096;

export class StreamReplies {
  private outstanding: i32 = 0; // forwarded requests (probes included) whose reply has not come
  private probeStreams: Array<i32> = new Array<i32>();
  private probeReplies: Array<ArrayBuffer> = new Array<ArrayBuffer>();
  private pending: Array<ArrayBuffer> = new Array<ArrayBuffer>();
  private pendingHead: i32 = 0;

  // Request direction: a request about to be forwarded will get one reply on `streamId`.
  expect(streamId: i32): void {
    this.outstanding += 1;
  }

  get outstandingReplies(): i32 {
    return this.outstanding;
  }

  // Request direction: the request on `streamId` is denied and will not reach the server.
  deny(streamId: i32, denyReply: ArrayBuffer): StreamDenial {
    if (this.probeStreams.length + this.pendingCount >= MAX_STREAM_DENIALS) return StreamDenial.Full;
    if (this.outstanding > 0) {
      this.pending.push(denyReply);
      return StreamDenial.Queued;
    }
    this.probeStreams.push(streamId);
    this.probeReplies.push(denyReply);
    this.outstanding += 1;
    return StreamDenial.Probe;
  }

  // Reply direction: a complete reply frame on `streamId` (>= 0; server-initiated frames such as
  // CQL events are not replies) has arrived. Returns the deny reply that must replace it when it
  // answers one of our probes, else null.
  replied(streamId: i32): ArrayBuffer | null {
    if (this.outstanding > 0) this.outstanding -= 1;
    for (let i = 0; i < this.probeStreams.length; i++) {
      if (this.probeStreams[i] != streamId) continue;
      const denyReply = this.probeReplies[i];
      this.probeStreams.splice(i, 1);
      this.probeReplies.splice(i, 1);
      return denyReply;
    }
    return null;
  }

  // True when `streamId` carries one of our probes (its answer will be replaced).
  isProbe(streamId: i32): bool {
    return this.probeStreams.includes(streamId);
  }

  get hasPending(): bool {
    return this.pendingHead < this.pending.length;
  }

  get pendingCount(): i32 {
    return this.pending.length - this.pendingHead;
  }

  // Reply direction, at a frame boundary: the oldest deny reply waiting to be sent, or null.
  takePending(): ArrayBuffer | null {
    if (!this.hasPending) return null;
    const denyReply = this.pending[this.pendingHead];
    this.pendingHead += 1;
    if (this.pendingHead >= this.pending.length) {
      this.pending.length = 0;
      this.pendingHead = 0;
    }
    return denyReply;
  }
}
