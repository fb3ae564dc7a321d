// The host's single "worker thread": a FIFO of posted tasks and a manual clock with timers. Envoy runs
// socket reads, upstream replies, shared-queue wake-ups and ticks as separate event-loop iterations;
// the test host does the same by posting them here and draining in order. Time moves only when a
// test calls advance(), so tick tests are deterministic.

export type Task = () => void;

interface Timer {
  id: number;
  due: number;
  run: Task;
}

export class Dispatcher {
  private readonly tasks: Task[] = [];
  private readonly timers = new Map<number, Timer>();
  private draining = false;
  private nextTimerId = 1;
  private nowMs: number;

  constructor(startTimeMs: number) {
    this.nowMs = startTimeMs;
  }

  get now(): number {
    return this.nowMs;
  }

  post(task: Task): void {
    this.tasks.push(task);
  }

  // Runs posted tasks, including the ones they post, until none are left. Reentrant calls return at
  // once: the outer drain picks up whatever they posted.
  drain(): void {
    if (this.draining) return;
    this.draining = true;
    try {
      for (let task = this.tasks.shift(); task !== undefined; task = this.tasks.shift()) task();
    } finally {
      this.draining = false;
    }
  }

  schedule(delayMs: number, run: Task): number {
    const id = this.nextTimerId++;
    this.timers.set(id, { id, due: this.nowMs + delayMs, run });
    return id;
  }

  cancel(timerId: number): void {
    this.timers.delete(timerId);
  }

  // Moves the clock forward, firing due timers in time order (each followed by a full drain).
  advance(milliseconds: number): void {
    const target = this.nowMs + milliseconds;
    for (let next = this.nextDue(target); next !== undefined; next = this.nextDue(target)) {
      this.timers.delete(next.id);
      this.nowMs = next.due;
      next.run();
      this.drain();
    }
    this.nowMs = target;
    this.drain();
  }

  private nextDue(limit: number): Timer | undefined {
    let best: Timer | undefined;
    for (const timer of this.timers.values()) {
      if (timer.due <= limit && (best === undefined || timer.due < best.due || (timer.due === best.due && timer.id < best.id))) {
        best = timer;
      }
    }
    return best;
  }
}
