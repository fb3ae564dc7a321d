// How a CQL connection starts, followed exactly as Cassandra 5.0 starts it
// (org.apache.cassandra.transport.InitialConnectionHandler, PipelineConfigurator,
// ServerConnection), so that the filter and the server always frame the same bytes the same way:
//
// - Before STARTUP only OPTIONS and STARTUP are served, in 9-byte-header frames; anything else is
//   answered with an error and the server closes, so the filter closes.
// - STARTUP fixes the connection's protocol version for good. For v3/v4 the server keeps legacy
//   frames. For v5 it switches both directions to v5 segments right after its answer to STARTUP
//   has been written, whatever that answer is: READY, AUTHENTICATE, and ERROR too (the switch
//   is a listener on the write, not on success). Bytes the client sends before that answer may
//   be read in either framing, so any request while STARTUP is unanswered closes the connection.
// - A STARTUP answered with ERROR leaves the server in a state the filter cannot be sure of (v5:
//   segments but not started; v3/v4: legacy but not started, unless the frame never reached the
//   STARTUP handler), so the connection is refused: the error reaches the client, any later
//   request closes the connection.
// - Protocol versions other than 3, 4, 5 are refused before they reach the server (the server
//   would discard every byte it had read, a number no filter can know). Those a client may try
//   first and downgrade from are answered with the protocol error Cassandra itself sends, and
//   the connection is refused; any other first byte closes the connection at once. v6 is
//   Cassandra's beta; Weir does not forward it.
// After the start every frame must carry the connection's version (the server rejects others).
import { Opcode } from './cql';

export const enum Phase {
  Initial = 0, // no STARTUP forwarded yet
  StartupPending = 1, // STARTUP forwarded, its answer not yet passed
  Started = 2, // STARTUP answered READY or AUTHENTICATE: requests flow
  Refused = 3, // nothing more is forwarded; the next request closes the connection
}

export const MIN_VERSION: i32 = 3;
export const MAX_VERSION: i32 = 5;

export class Handshake {
  phase: Phase = Phase.Initial;
  // The connection's protocol version, from the STARTUP forwarded (0 before).
  version: i32 = 0;
  // Both directions carry v5 segments (after a v5 STARTUP was answered).
  segmented: bool = false;
  // Why the connection was refused (for the log of the request that then closes it).
  refusal: string = '';
  private startupStream: i32 = -1;

  static supports(version: i32): bool {
    return version >= MIN_VERSION && version <= MAX_VERSION;
  }

  // The refused versions a client may send first and downgrade from: v1 and v2, Cassandra's v6
  // beta, DSE's v1 and v2 (0x41, 0x42: cassandra-driver tries them before v4). Anything else in a
  // first frame (a TLS ClientHello's 0x16, noise) is no CQL client and is not answered.
  static answersRefusal(version: i32): bool {
    return version == 1 || version == 2 || version == 6 || version == 0x41 || version == 0x42;
  }

  startupForwarded(version: i32, stream: i32): void {
    this.phase = Phase.StartupPending;
    this.version = version;
    this.startupStream = stream;
  }

  refuse(reason: string): void {
    this.phase = Phase.Refused;
    this.refusal = reason;
  }

  // The reply on `stream` (opcode `opcode`) has passed toward the client. False when it cannot
  // be the answer the handshake expects (the caller fails the connection).
  replied(stream: i32, opcode: i32): bool {
    if (this.phase != Phase.StartupPending || stream != this.startupStream) return true;
    if (this.version >= 5) this.segmented = true; // Cassandra switches whatever it answered
    if (opcode == Opcode.Ready || opcode == Opcode.Authenticate) {
      this.phase = Phase.Started;
      return true;
    }
    if (opcode == Opcode.Error) {
      this.refuse('Cassandra answered STARTUP with an error, which leaves the connection unstarted' + (this.version >= 5 ? ' but already in v5 segments' : '') + '; reconnect');
      return true;
    }
    return false;
  }
}
