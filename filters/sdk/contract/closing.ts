// Closes failed connections (ERROR op) without losing what was already forwarded. Envoy 1.40
// drops the bytes of the very callback that calls proxy_close_stream (in both directions), so a
// failed connection is closed in a later callback: the next data callback of either direction,
// or a root tick, once the replies the client is owed for requests already forwarded have passed
// (or OWED_REPLY_GRACE_MS ran out). Owns the list of closing connections and the tick that
// drives it; deciding that a connection fails is filter-context.ts's job.
import { Connection } from './connection';
import { ROOT_TICK_MS, closeConnection, closeConnectionOf, nowMilliseconds, setTickPeriod } from '../abi/host';
// How long a failed connection waits for the replies owed to requests forwarded before the ERROR.
export const OWED_REPLY_GRACE_MS: u64 = 5000;

class ClosingConnection {
  constructor(
    public connection: Connection,
    public rootContextId: u32,
  ) {}
}

const closing = new Array<ClosingConnection>();

// The connection failed in the current callback, whose buffer now holds `forwardedBytes` bytes
// to forward. Closes at once when that loses nothing, else at the next opportunity.
export function startClosing(connection: Connection, rootContextId: u32, forwardedBytes: usize): void {
  connection.closeDeadlineMs = nowMilliseconds() + OWED_REPLY_GRACE_MS;
  if (forwardedBytes == 0 && closeIsDue(connection)) {
    closeNow(connection);
    return;
  }
  closing.push(new ClosingConnection(connection, rootContextId));
  setTickPeriod(ROOT_TICK_MS);
}

// True once nothing more is owed to the client (or the reply side failed too, or time is up).
export function closeIsDue(connection: Connection): bool {
  if (connection.replyFailed || connection.replies.isEmpty) return true;
  return nowMilliseconds() >= connection.closeDeadlineMs;
}

// Closes from inside the connection's own callback (whose bytes Envoy then drops).
export function closeNow(connection: Connection): void {
  if (connection.closeRequested) return;
  connection.closeRequested = true;
  forgetClosing(connection);
  closeConnection();
}

// proxy_on_tick: closes every due connection of this root; true while some are still waiting
// (filter-context.ts stops the ticks when nobody needs them).
export function closeDueConnections(rootContextId: u32): bool {
  let index = 0;
  let remaining = 0;
  while (index < closing.length) {
    const entry = closing[index];
    if (entry.rootContextId != rootContextId) {
      index++;
      continue;
    }
    if (!closeIsDue(entry.connection)) {
      remaining++;
      index++;
      continue;
    }
    entry.connection.closeRequested = true;
    closing.splice(index, 1);
    closeConnectionOf(entry.connection.contextId, rootContextId);
  }
  return remaining > 0;
}

// Drops a connection from the list (it closed or Envoy deleted its context).
export function forgetClosing(connection: Connection): void {
  for (let i = 0; i < closing.length; i++) {
    if (closing[i].connection === connection) {
      closing.splice(i, 1);
      return;
    }
  }
}
