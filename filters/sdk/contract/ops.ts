// The ops a parser answers with (DESIGN.md): MORE n, PASS n, DROP n, INJECT n, ERROR code, NOP,
// packed into a u64 so returning one allocates nothing. The contract that returns them is
// parser.ts; the op loop that applies them is op-loop.ts. Imports nothing, so the connection
// (connection.ts) and the parser contract both use it without an import circle.

export type Op = u64;

export const enum OpKind {
  More = 0,
  Pass = 1,
  Drop = 2,
  Inject = 3,
  Error = 4,
  Nop = 256,
}

// ERROR op codes. 1-3 keep Cilium's numbering; the rest are Weir's.
export const enum ErrorCode {
  InvalidOpLength = 1,
  InvalidFrameType = 2,
  InvalidFrameLength = 3,
  FrameTooLarge = 4,
  TooManyPendingReplies = 5,
  InjectOverflow = 6,
  TooManyOps = 7,
  // The policy denies the connection, and its protocol has no way to refuse one request (the
  // opaque `tcp` guard): the connection is closed.
  PolicyDenied = 8,
  // Envoy refused to hand over bytes of the connection's own buffer: they cannot be forwarded or
  // checked, so the connection is closed.
  HostBufferUnreadable = 9,
}

// Keep everything unconsumed; call again once at least `count` more bytes have arrived.
export function more(count: u32): Op {
  return ((<u64>OpKind.More) << 32) | <u64>count;
}

// Forward the next `count` bytes; bytes beyond what is buffered are forwarded as they arrive,
// without calling the parser.
export function pass(count: u32): Op {
  return ((<u64>OpKind.Pass) << 32) | <u64>count;
}

// Discard the next `count` bytes, carrying over like pass().
export function drop(count: u32): Op {
  return ((<u64>OpKind.Drop) << 32) | <u64>count;
}

// Emit `count` bytes previously queued with Connection.injectHere() at this stream position.
export function inject(count: u32): Op {
  return ((<u64>OpKind.Inject) << 32) | <u64>count;
}

// Close the connection: the input cannot be parsed. `code` is an ErrorCode (never 0).
export function error(code: u32): Op {
  return ((<u64>OpKind.Error) << 32) | <u64>code;
}

// Nothing to do until more bytes arrive.
export function nop(): Op {
  return (<u64>OpKind.Nop) << 32;
}

export function opKind(op: Op): u32 {
  return <u32>(op >> 32);
}

export function opCount(op: Op): u32 {
  return <u32>(op & 0xffffffff);
}
