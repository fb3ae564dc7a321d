// What the text and binary framings of one connection share: the connection, the probe-answer
// bookkeeping behind denials, bytes still to drop after an injection, and the verdict step that
// turns a decoded request into PASS, a silent DROP, or a probe in its place.
import { Connection, Direction, EntryType, ErrorCode, Op, closeOnDoubt, drop, error, inject, pass } from '../../sdk/index';
import { ProbeAnswers } from './probe-answers';

export const DENIED_REASON = 'no rule allows this request';

export class MemcacheSession {
  readonly probes: ProbeAnswers = new ProbeAnswers();
  // Bytes of the current frame to drop once the bytes injected in its place are out.
  requestDropAfterInject: u32 = 0;
  replyDropAfterInject: u32 = 0;

  constructor(readonly connection: Connection) {}

  // PASS an allowed request (`isProbeKind`: it is itself a version/NOOP request, whose answer
  // must not be taken for one of ours); a denied one never reaches the server: dropped silently
  // when the client expects no reply (`noreply`), else replaced by `probe`, whose answer the reply
  // side rewrites into the deny reply. The record and log fields must be filled. Without rules
  // every request is allowed (and logged).
  decide(frameLength: u32, expectsReply: bool, isProbeKind: bool, probe: ArrayBuffer, deniedOpcode: u8, deniedOpaque: u32): Op {
    const connection = this.connection;
    if (connection.allows(true)) {
      connection.log(EntryType.Request, '');
      if (isProbeKind && !this.probes.expectClientAnswer()) return this.tooManyPending();
      return pass(frameLength);
    }
    if (!expectsReply) {
      connection.log(EntryType.Denied, DENIED_REASON + ' (noreply: nothing sent to the client)');
      return drop(frameLength);
    }
    connection.log(EntryType.Denied, DENIED_REASON);
    if (!this.probes.expectOurAnswer(deniedOpcode, deniedOpaque)) return this.tooManyPending();
    return this.injectInstead(Direction.Request, probe, frameLength);
  }

  private tooManyPending(): Op {
    this.connection.errorDetail = 'more than 4096 version/NOOP answers are outstanding';
    return error(ErrorCode.TooManyPendingReplies);
  }

  // Emits `bytes` where the current frame is, then drops the frame's `frameLength` bytes.
  injectInstead(direction: Direction, bytes: ArrayBuffer, frameLength: u32): Op {
    this.connection.injectHere(direction, bytes);
    if (direction == Direction.Request) this.requestDropAfterInject = frameLength;
    else this.replyDropAfterInject = frameLength;
    return inject(<u32>bytes.byteLength);
  }

  // The DROP owed after an injection in this direction, or 0.
  takePendingDrop(reply: bool): u32 {
    const count = reply ? this.replyDropAfterInject : this.requestDropAfterInject;
    if (reply) this.replyDropAfterInject = 0;
    else this.requestDropAfterInject = 0;
    return count;
  }

  malformed(what: string): Op {
    return closeOnDoubt(this.connection, what);
  }
}
