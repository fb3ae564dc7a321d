// Which connection's callback is running right now, so that the abort handler can write a last
// access-log entry for it. Set and cleared by filter-context.ts around each data callback.
import { Connection } from './connection';

let running: Connection | null = null;

export function setRunningConnection(connection: Connection | null): void {
  running = connection;
}

export function runningConnection(): Connection | null {
  return running;
}
