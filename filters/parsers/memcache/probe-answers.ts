// Where each denial's reply goes among the server's replies. A denied request is replaced by a
// probe the server always answers (text `version`, binary NOOP), and the probe's answer is
// rewritten into the deny reply. memcached answers in request order, and only `version` (text) or
// NOOP (binary) requests produce `VERSION` lines or NOOP replies, so the k-th such answer belongs
// to the k-th such request sent upstream: the client's own (passed unchanged) or our probe. This
// needs no count of replies per request, so quiet opcodes, `noreply`, meta `q` and NOOP-terminated
// multi-gets (which answer some requests and not others) cannot shift a denial.
// Runs of the client's own probes are one entry; at most MAX_PENDING_ENTRIES entries wait.

export const MAX_PENDING_ENTRIES: i32 = 4096;

// What takeAnswer() found at the head.
export const enum AnswerOwner {
  None = -1, // no probe-type request is outstanding: pass the answer
  Client = 0, // the client's own version/NOOP: pass it
  Ours = 1, // our probe: drop it and write the deny reply (see deniedOpcode/deniedOpaque)
}

const OURS_BIT: u64 = 1 << 63;

export class ProbeAnswers {
  // Ring of entries: a client run is its count; ours is OURS_BIT | opcode << 32 | opaque.
  private entries: StaticArray<u64> = new StaticArray<u64>(8);
  private head: i32 = 0;
  private count: i32 = 0;
  // The denied request behind the last Ours answer (binary: echoed in the deny reply).
  deniedOpcode: u8 = 0;
  deniedOpaque: u32 = 0;

  get isEmpty(): bool {
    return this.count == 0;
  }

  // The client sent its own probe-type request upstream; false when too many entries wait.
  expectClientAnswer(): bool {
    if (this.count > 0) {
      const last = this.slot(this.count - 1);
      const entry = this.entries[last];
      if ((entry & OURS_BIT) == 0) {
        this.entries[last] = entry + 1;
        return true;
      }
    }
    return this.push(1);
  }

  // We sent a probe in place of a denied request; false when too many entries wait.
  expectOurAnswer(opcode: u8, opaque: u32): bool {
    return this.push(OURS_BIT | (<u64>opcode << 32) | <u64>opaque);
  }

  // Retires the oldest outstanding probe-type request, saying whose it was.
  takeAnswer(): AnswerOwner {
    if (this.count == 0) return AnswerOwner.None;
    const entry = this.entries[this.head];
    if ((entry & OURS_BIT) != 0) {
      this.deniedOpcode = <u8>((entry >> 32) & 0xff);
      this.deniedOpaque = <u32>(entry & 0xffffffff);
      this.dropHead();
      return AnswerOwner.Ours;
    }
    if (entry > 1) this.entries[this.head] = entry - 1;
    else this.dropHead();
    return AnswerOwner.Client;
  }

  private push(entry: u64): bool {
    if (this.count >= MAX_PENDING_ENTRIES) return false;
    if (this.count == this.entries.length) this.grow();
    this.entries[this.slot(this.count)] = entry;
    this.count += 1;
    return true;
  }

  private dropHead(): void {
    this.head = this.slot(1);
    this.count -= 1;
  }

  private slot(index: i32): i32 {
    return (this.head + index) % this.entries.length;
  }

  private grow(): void {
    const larger = new StaticArray<u64>(this.entries.length * 2);
    for (let i = 0; i < this.count; i++) larger[i] = this.entries[this.slot(i)];
    this.entries = larger;
    this.head = 0;
  }
}
