// What one Envoy process shares between all its Wasm VMs: the dispatcher (event loop and clock),
// shared data and shared queues. Pass one HostProcess to several loadFilter() calls to test a parser
// VM and the agent VM talking through shared data/queues; by default each filter gets its own.
import { Dispatcher } from './dispatcher.ts';
import { SharedData } from './shared-data.ts';
import { SharedQueues } from './shared-queues.ts';

export class HostProcess {
  readonly dispatcher: Dispatcher;
  readonly sharedData = new SharedData();
  readonly sharedQueues: SharedQueues;

  constructor(options: { startTimeMs?: number } = {}) {
    this.dispatcher = new Dispatcher(options.startTimeMs ?? Date.UTC(2026, 0, 1));
    this.sharedQueues = new SharedQueues(this.dispatcher);
  }

  // Moves the clock forward, firing ticks and everything they cause.
  advanceTime(milliseconds: number): void {
    this.dispatcher.advance(milliseconds);
  }

  // Runs every posted task (queue wake-ups, upstream replies) until the host is idle.
  settle(): void {
    this.dispatcher.drain();
  }
}
