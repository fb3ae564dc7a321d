// Envoy's process-wide shared queues (cpp-host SharedQueue). Registering a (vm_id, name) makes the
// registering root context its single consumer (a later registration takes it over); every enqueue
// posts one proxy_on_queue_ready to that consumer on the dispatcher. Tokens start at 1.
import { Status, type StatusCode } from './abi.ts';
import type { Dispatcher } from './dispatcher.ts';

export interface QueueConsumer {
  // Delivers proxy_on_queue_ready(rootContextId, token) if the consumer's VM still runs.
  notifyQueueReady(rootContextId: number, token: number): void;
}

interface Queue {
  vmId: string;
  name: string;
  items: Uint8Array[];
  consumer: QueueConsumer;
  rootContextId: number;
}

export class SharedQueues {
  private readonly byToken = new Map<number, Queue>();
  private readonly tokenByName = new Map<string, number>();
  private nextToken = 1;

  constructor(private readonly dispatcher: Dispatcher) {}

  register(vmId: string, name: string, consumer: QueueConsumer, rootContextId: number): number {
    const key = queueKey(vmId, name);
    const existing = this.tokenByName.get(key);
    if (existing !== undefined) {
      const queue = this.byToken.get(existing);
      if (queue !== undefined) {
        queue.consumer = consumer;
        queue.rootContextId = rootContextId;
      }
      return existing;
    }
    const token = this.nextToken++;
    this.tokenByName.set(key, token);
    this.byToken.set(token, { vmId, name, items: [], consumer, rootContextId });
    return token;
  }

  resolve(vmId: string, name: string): number | undefined {
    return this.tokenByName.get(queueKey(vmId, name));
  }

  enqueue(token: number, value: Uint8Array): StatusCode {
    const queue = this.byToken.get(token);
    if (queue === undefined) return Status.NotFound;
    queue.items.push(value.slice());
    const { consumer, rootContextId } = queue;
    this.dispatcher.post(() => consumer.notifyQueueReady(rootContextId, token));
    return Status.Ok;
  }

  dequeue(token: number): { status: StatusCode; value?: Uint8Array } {
    const queue = this.byToken.get(token);
    if (queue === undefined) return { status: Status.NotFound };
    const value = queue.items.shift();
    return value === undefined ? { status: Status.Empty } : { status: Status.Ok, value };
  }

  // Test access: what is waiting in a queue, without consuming it.
  peek(vmId: string, name: string): Uint8Array[] {
    const token = this.resolve(vmId, name);
    return token === undefined ? [] : [...(this.byToken.get(token)?.items ?? [])];
  }
}

function queueKey(vmId: string, name: string): string {
  return `${vmId}\0${name}`;
}
