// The probe-answer strategy of reply-correlation.ts, for protocols whose replies cannot be
// counted per request but whose probe's answers can be recognised (memcached: only `version`
// (text) or NOOP (binary) requests produce `VERSION` lines or NOOP replies). A denied request is
// always replaced by a probe, and since the server answers in request order, the k-th probe-kind
// answer belongs to the k-th probe-kind request sent upstream: the client's own (passed
// unchanged) or our probe (rewritten into the deny reply). This needs no count of replies per
// request, so requests answered by nothing or by a variable number of replies (memcached's quiet
// opcodes, `noreply`, meta `q`, NOOP-terminated multi-gets) cannot shift a denial. Runs of the
// client's own probe-kind requests are one entry; at most MAX_PENDING_DENIALS entries wait.
import { Denial, MAX_PENDING_DENIALS, ReplyCorrelation, ReplyKind } from './reply-correlation';

export class ProbeAnswers extends ReplyCorrelation {
  // Ring of entries: a run of the client's probe-kind requests (its length), or our probe (0,
  // with its deny reply beside it).
  private runs: StaticArray<u32> = new StaticArray<u32>(8);
  private denyReplies: StaticArray<ArrayBuffer | null> = new StaticArray<ArrayBuffer | null>(8);
  private head: i32 = 0;
  private count: i32 = 0;

  // `probeKind` names the probe-kind requests in the Error entry when too many wait ("version/NOOP").
  constructor(private probeKind: string) {
    super();
  }

  // Only requests answered like the probe are counted.
  expect(id: i32): bool {
    if (id != ReplyKind.LikeProbe) return true;
    if (this.count > 0) {
      const last = this.slot(this.count - 1);
      if (this.runs[last] > 0) {
        this.runs[last] += 1;
        return true;
      }
    }
    return this.push(1, null);
  }

  // Always a probe: replies are not counted, so there is nothing to queue behind.
  deny(id: i32, denyReply: ArrayBuffer): Denial {
    return this.push(0, denyReply) ? Denial.Probe : Denial.Full;
  }

  // Call for each probe-kind answer only (`id` is ignored): retires the oldest probe-kind request.
  answered(id: i32): ArrayBuffer | null {
    if (this.count == 0) return null;
    const at = this.head;
    const run = this.runs[at];
    if (run > 1) {
      this.runs[at] = run - 1;
      return null;
    }
    const denyReply = this.denyReplies[at];
    this.denyReplies[at] = null;
    this.head = this.slot(1);
    this.count -= 1;
    return denyReply;
  }

  takeDue(): ArrayBuffer | null {
    return null;
  }

  awaits(id: i32): bool {
    return this.count > 0;
  }

  get fullDetail(): string {
    return 'more than ' + MAX_PENDING_DENIALS.toString() + ' ' + this.probeKind + ' answers are outstanding';
  }

  private push(run: u32, denyReply: ArrayBuffer | null): bool {
    if (this.count >= MAX_PENDING_DENIALS) return false;
    if (this.count == this.runs.length) this.grow();
    const at = this.slot(this.count);
    this.runs[at] = run;
    this.denyReplies[at] = denyReply;
    this.count += 1;
    return true;
  }

  private slot(index: i32): i32 {
    return (this.head + index) % this.runs.length;
  }

  private grow(): void {
    const size = this.runs.length * 2;
    const runs = new StaticArray<u32>(size);
    const denyReplies = new StaticArray<ArrayBuffer | null>(size);
    for (let i = 0; i < this.count; i++) {
      runs[i] = this.runs[this.slot(i)];
      denyReplies[i] = this.denyReplies[this.slot(i)];
    }
    this.runs = runs;
    this.denyReplies = denyReplies;
    this.head = 0;
  }
}
