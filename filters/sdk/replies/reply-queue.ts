// The per-connection FIFO of replies the client is owed, in request order: replies the server
// will send (runs of them are counted, so forwarding a request allocates nothing), deny replies
// waiting for their turn, and probes whose server reply must be rewritten into a deny reply.
// The in-order strategy of reply-correlation.ts: the op loop (op-loop.ts) consumes it on the
// reply direction (a probe's answer may span several frames, all dropped); connection.ts fills it.
import { Denial, MAX_PENDING_DENIALS, ReplyCorrelation } from './reply-correlation';

export const enum SlotKind {
  FromServer = 0, // `count` replies the server will send, passed unchanged
  Denied = 1, // a deny reply to emit when it reaches the head
  Probe = 2, // the server's reply to our probe: dropped and replaced by `denyReply`
}

export class ReplySlot {
  constructor(
    public kind: SlotKind,
    public count: u32,
    public denyReply: ArrayBuffer | null,
  ) {}
}

// Bounds the slots (not the replies: a run of forwarded requests is one slot), so a client that
// pipelines denied requests without reading cannot grow memory without limit.
export const MAX_REPLY_SLOTS: i32 = MAX_PENDING_DENIALS;

export class ReplyQueue extends ReplyCorrelation {
  private slots: Array<ReplySlot> = new Array<ReplySlot>();
  private head: i32 = 0;

  get isEmpty(): bool {
    return this.head >= this.slots.length;
  }

  get isFull(): bool {
    return this.slots.length - this.head >= MAX_REPLY_SLOTS;
  }

  headKind(): i32 {
    return this.isEmpty ? -1 : <i32>this.slots[this.head].kind;
  }

  // The head slot; only call when !isEmpty.
  peek(): ReplySlot {
    return this.slots[this.head];
  }

  expectServerReply(): void {
    if (!this.isEmpty) {
      const last = this.slots[this.slots.length - 1];
      if (last.kind == SlotKind.FromServer) {
        last.count += 1;
        return;
      }
    }
    this.slots.push(new ReplySlot(SlotKind.FromServer, 1, null));
  }

  pushDenied(denyReply: ArrayBuffer): void {
    this.slots.push(new ReplySlot(SlotKind.Denied, 1, denyReply));
  }

  pushProbe(denyReply: ArrayBuffer): void {
    this.slots.push(new ReplySlot(SlotKind.Probe, 1, denyReply));
  }

  expect(id: i32): bool {
    this.expectServerReply();
    return true;
  }

  // A probe when nothing is outstanding (the caller writes it where the request was).
  deny(id: i32, denyReply: ArrayBuffer): Denial {
    if (this.isFull) return Denial.Full;
    if (this.isEmpty) {
      this.pushProbe(denyReply);
      return Denial.Probe;
    }
    this.pushDenied(denyReply);
    return Denial.Queued;
  }

  answered(id: i32): ArrayBuffer | null {
    const denyReply = this.headKind() == SlotKind.Probe ? this.peek().denyReply : null;
    this.popOne();
    return denyReply;
  }

  takeDue(): ArrayBuffer | null {
    if (this.headKind() != SlotKind.Denied) return null;
    const denyReply = this.peek().denyReply;
    this.popOne();
    return denyReply;
  }

  awaits(id: i32): bool {
    return !this.isEmpty;
  }

  get fullDetail(): string {
    return '';
  }

  // Retires one reply from the head slot.
  popOne(): void {
    if (this.isEmpty) return;
    const slot = this.slots[this.head];
    if (slot.kind == SlotKind.FromServer && slot.count > 1) {
      slot.count -= 1;
      return;
    }
    this.head += 1;
    if (this.isEmpty) {
      this.slots.length = 0;
      this.head = 0;
    } else if (this.head >= 64) {
      this.slots = this.slots.slice(this.head);
      this.head = 0;
    }
  }
}
