// Applies a parser's ops to one direction of one connection for one Envoy callback: copies
// Envoy's bytes into Wasm memory only as far as the parser reads them, carries PASS/DROP beyond
// the buffered bytes over (to the rest of Envoy's buffer, in place, and to later callbacks)
// without calling the parser, waits for MORE, copies INJECTed bytes (and DROPs the frame they
// replace, Connection.replace), and on the reply direction turns probe replies into deny replies
// and emits queued deny replies when their turn comes. Collects what to forward in stream.output
// (callback-buffer.ts); writing it to Envoy is left to filter-context.ts.
import { Connection, Direction, DirectionStream } from './connection';
import { ErrorCode, OpKind, opCount, opKind } from './ops';
import { Parser } from './parser';
import { SlotKind } from '../replies/reply-queue';
import { isTracingOps, traceOp } from './op-trace';

// A parser that injects this many times in a row without consuming input is looping.
const MAX_INJECTS_IN_A_ROW: i32 = 1024;

// Runs the op loop; returns 0, or the ErrorCode that must close the connection.
export function runOpLoop(connection: Connection, parser: Parser, direction: Direction, endStream: bool): u32 {
  const stream = connection.streamOf(direction);
  const input = stream.input;
  const envoy = stream.output;
  const reply = direction == Direction.Reply;
  let injectsInARow = 0;
  // The parser has seen everything buffered (it answered MORE or NOP last time): give it Envoy's
  // new bytes before calling it again.
  let seenAll = true;
  while (true) {
    if (!carryOver(stream)) break;
    if (reply) flushDeniedReplies(connection, stream);
    if (envoy.unread > 0 && (seenAll || input.length == 0 || <u64>input.length < stream.needBuffered)) {
      const short = stream.needBuffered > <u64>input.length ? stream.needBuffered - <u64>input.length : 1;
      if (!envoy.copyIn(input, short)) return ErrorCode.HostBufferUnreadable;
      seenAll = false;
    }
    const available = input.length;
    if (<u64>available < stream.needBuffered) break;
    stream.view.setWindow(input.readPtr, <i32>available);
    connection.beginParse(direction);
    // The stream ends only after the last of Envoy's bytes, which the parser may not hold yet.
    const op = parser.onData(reply, endStream && envoy.unread == 0, stream.view);
    const kind = opKind(op);
    const count = opCount(op);
    if (isTracingOps()) traceOp(connection.id, direction, kind, count, available);
    if (kind == OpKind.Nop) {
      if (envoy.unread == 0) break;
      seenAll = true;
      continue;
    }
    if (count == 0) return ErrorCode.InvalidOpLength;
    if (kind == OpKind.More) {
      stream.needBuffered = <u64>available + <u64>count;
      if (envoy.unread == 0) break;
      continue;
    }
    if (kind == OpKind.Error) return count;
    stream.needBuffered = 0;
    if (kind == OpKind.Pass) {
      if (reply) passReply(connection, stream, count);
      else stream.passAhead = count;
      injectsInARow = 0;
    } else if (kind == OpKind.Drop) {
      stream.dropAhead = count;
      // A reply the parser rewrote (INJECT the new frame, then DROP the server's) ends here.
      if (reply && connection.replyEnded) endReply(connection, stream);
      injectsInARow = 0;
    } else if (kind == OpKind.Inject) {
      if (<usize>count > stream.injected.length) return ErrorCode.InjectOverflow;
      envoy.appendBytes(stream.injected.readPtr, <usize>count);
      stream.injected.consume(<usize>count);
      if (stream.dropAfterInject > 0) {
        // replace(): the frame the injected bytes stand for goes now, as if the parser DROPped it
        stream.dropAhead = stream.dropAfterInject;
        stream.dropAfterInject = 0;
        if (reply && connection.replyEnded) endReply(connection, stream);
        injectsInARow = 0;
      } else if (++injectsInARow > MAX_INJECTS_IN_A_ROW) return ErrorCode.TooManyOps;
    } else {
      return ErrorCode.InvalidOpLength;
    }
  }
  if (input.length > <usize>connection.settings.maxBufferBytes) return ErrorCode.FrameTooLarge;
  return 0;
}

// Applies pending PASS/DROP bytes to what is buffered, then to Envoy's unread bytes in place;
// false while some are still to come.
function carryOver(stream: DirectionStream): bool {
  const envoy = stream.output;
  if (stream.passAhead > 0) {
    const count = minBytes(stream.passAhead, stream.input.length);
    envoy.forwardInput(stream.input, count);
    stream.passAhead -= <u64>count;
    if (stream.passAhead > 0) {
      const inPlace = minBytes(stream.passAhead, <usize>envoy.unread);
      envoy.forwardInPlace(<u32>inPlace);
      stream.passAhead -= <u64>inPlace;
      if (stream.passAhead > 0) return false;
    }
  }
  if (stream.dropAhead > 0) {
    const count = minBytes(stream.dropAhead, stream.input.length);
    envoy.dropInput(stream.input, count);
    stream.dropAhead -= <u64>count;
    if (stream.dropAhead > 0) {
      const inPlace = minBytes(stream.dropAhead, <usize>envoy.unread);
      envoy.dropInPlace(<u32>inPlace);
      stream.dropAhead -= <u64>inPlace;
      if (stream.dropAhead > 0) return false;
    }
  }
  return true;
}

// A reply frame is passed, unless it answers one of our probes: then it is dropped and, when the
// parser marked it as the reply's last frame, the deny reply takes its place.
function passReply(connection: Connection, stream: DirectionStream, count: u32): void {
  const replies = connection.replies;
  if (replies.headKind() == SlotKind.Probe) {
    stream.dropAhead = count;
    if (connection.replyEnded) {
      const denyReply = replies.peek().denyReply;
      if (denyReply !== null) stream.output.appendArrayBuffer(denyReply);
      replies.popOne();
    }
    return;
  }
  stream.passAhead = count;
  if (connection.replyEnded) replies.popOne();
}

// The reply at the head of the queue is complete; a probe's answer gives way to its deny reply.
function endReply(connection: Connection, stream: DirectionStream): void {
  const replies = connection.replies;
  if (replies.headKind() == SlotKind.Probe) {
    const denyReply = replies.peek().denyReply;
    if (denyReply !== null) stream.output.appendArrayBuffer(denyReply);
  }
  replies.popOne();
}

// Emits deny replies that have reached the head of the reply queue.
function flushDeniedReplies(connection: Connection, stream: DirectionStream): void {
  const replies = connection.replies;
  while (replies.headKind() == SlotKind.Denied) {
    const denyReply = replies.peek().denyReply;
    if (denyReply !== null) stream.output.appendArrayBuffer(denyReply);
    replies.popOne();
  }
}

function minBytes(wanted: u64, available: usize): usize {
  return wanted < <u64>available ? <usize>wanted : available;
}
