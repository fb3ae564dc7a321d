// Reply correlation: how a connection knows where a denied request's reply belongs among the
// server's replies. Bytes reach the client only on bytes from the server, so a denied request is
// answered either behind replies still outstanding (queued) or by replacing it with a harmless
// probe the server answers, whose answer is rewritten into the deny reply. One interface, three
// strategies, chosen by the parser once per connection (Connection.answersInOrder,
// answersByProbe, answersByStreamId):
//   - in order (reply-queue.ts): every request gets replies in request order (r2d2, Kafka); the
//     op loop rewrites probe answers and emits queued deny replies itself;
//   - probe answer (probe-answers.ts): only answers of the probe's kind are recognisable (memcached
//     `VERSION`, binary NOOP), so only requests of that kind are counted and every denial is a probe;
//   - stream id (stream-replies.ts): replies carry the id of their request (CQL), so a deny reply
//     may go out at any reply boundary while another reply is outstanding.
// `id` is what the strategy matches replies by: ignored in order; ReplyKind for probe answers;
// the stream id for stream ids.

// Where a denied request's reply goes.
export const enum Denial {
  // Replies are outstanding: the deny reply waits for its turn; the request is dropped.
  Queued = 0,
  // Nothing is outstanding: a probe takes the request's place and its answer becomes the deny reply.
  Probe = 1,
  // Too many denials wait: the connection fails (ErrorCode.TooManyPendingReplies).
  Full = 2,
}

// For the probe-answer strategy: whether a forwarded request is answered like the probe (its
// answer is counted) or otherwise (not counted).
export const enum ReplyKind {
  Other = 0,
  LikeProbe = 1,
}

// Bounds what waits (deny replies, probes, runs of forwarded requests), so a client that sends
// denied requests without reading cannot grow memory without limit.
export const MAX_PENDING_DENIALS: i32 = 4096;

export abstract class ReplyCorrelation {
  // Request direction: the request about to be forwarded will be answered (on `id`). False when
  // too many entries wait.
  abstract expect(id: i32): bool;

  // Request direction: the request on `id` is denied and never reaches the server.
  abstract deny(id: i32, denyReply: ArrayBuffer): Denial;

  // Reply direction: a whole reply on `id` has arrived. The deny reply that must take its place
  // when it answers one of our probes, else null.
  abstract answered(id: i32): ArrayBuffer | null;

  // Reply direction, at a reply boundary: the oldest deny reply whose turn has come, or null.
  abstract takeDue(): ArrayBuffer | null;

  // True when a reply on `id` is awaited.
  abstract awaits(id: i32): bool;

  // What the Error entry says when deny() or expect() found too many entries waiting.
  abstract get fullDetail(): string;
}
