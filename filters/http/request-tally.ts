// Allowed requests of one connection, counted instead of logged one by one: consecutive allowed
// requests with the same method, path, host, response status and attribution (rule, revision,
// identities) become one Request entry with `requests: N`, written when the connection's next
// allowed request differs, before its next Denied entry (so a connection's entries stay in order),
// or on the first root tick after the run is TALLY_WINDOW_MS old. Each access-log entry costs
// Envoy (building it, the agent shipping it) and `weir serve` (parsing, recording, logging it) more
// than the decision itself (docs/benchmarks.md "HTTP"); a keep-alive or HTTP/2 connection repeating
// one request then costs one entry per second instead of one per request. Denied requests are
// never counted: each has its own entry at once (docs/http.md "Access log").
import { ByteBuffer } from '../sdk/bytes/byte-buffer';
import { ByteView } from '../sdk/bytes/byte-view';
import { EntryAttribution, LogFields } from '../sdk/access-log/access-log';

// How long a run of identical allowed requests is counted before its entry is written: the most
// an allowed request waits to be seen in `weir monitor`.
export const TALLY_WINDOW_MS: u64 = 1000;

export class RequestTally {
  // Requests counted (0: no run open).
  requests: u64 = 0;
  status: u64 = 0;
  startedMs: u64 = 0;
  readonly attribution: EntryAttribution = new EntryAttribution();
  // Method, path and host, one after the other.
  private line: ByteBuffer = new ByteBuffer();
  private methodLength: i32 = 0;
  private pathLength: i32 = 0;
  private view: ByteView = new ByteView();

  // True when a request with this line, status and attribution continues the open run.
  continues(line: ByteBuffer, methodLength: i32, pathLength: i32, status: u64, attribution: EntryAttribution): bool {
    if (this.requests == 0 || status != this.status) return false;
    if (methodLength != this.methodLength || pathLength != this.pathLength || line.length != this.line.length) return false;
    if (memory.compare(line.readPtr, this.line.readPtr, line.length) != 0) return false;
    return sameAttribution(attribution, this.attribution);
  }

  // Opens a run with one request.
  start(line: ByteBuffer, methodLength: i32, pathLength: i32, status: u64, attribution: EntryAttribution, nowMs: u64): void {
    this.line.clear();
    this.line.appendBytes(line.readPtr, line.length);
    this.methodLength = methodLength;
    this.pathLength = pathLength;
    this.status = status;
    this.startedMs = nowMs;
    this.requests = 1;
    copyAttribution(this.attribution, attribution);
  }

  // The run's fields: method, path, host, status and requests.
  addFields(fields: LogFields): void {
    const view = this.view;
    view.setWindow(this.line.readPtr, <i32>this.line.length);
    const hostLength = <i32>this.line.length - this.methodLength - this.pathLength;
    fields.addBytes('method', view, 0, this.methodLength);
    fields.addBytes('path', view, this.methodLength, this.pathLength);
    fields.addBytes('host', view, this.methodLength + this.pathLength, hostLength);
    fields.addNumber('status', this.status);
    fields.addNumber('requests', this.requests);
  }

  release(): void {
    this.requests = 0;
    this.line.release();
  }
}

function sameAttribution(a: EntryAttribution, b: EntryAttribution): bool {
  return a.sourceIdentity == b.sourceIdentity && a.destinationIdentity == b.destinationIdentity && a.rule == b.rule && a.revision == b.revision;
}

export function copyAttribution(target: EntryAttribution, source: EntryAttribution): void {
  target.revision = source.revision;
  target.rule = source.rule;
  target.sourceIdentity = source.sourceIdentity;
  target.destinationIdentity = source.destinationIdentity;
}
