// What a protocol plugs into the fuzz framework (see test/fuzz/README.md): a model of how the real
// server frames and reads client bytes, generators of sessions, recordings of real clients,
// policies, and a fake server for the Wasm test host. The framework's runners (host-fuzz.ts,
// wire runners per protocol) only ever use these.
import type { FakeUpstream, HostConnection } from '../../../server/wasm-host/index.ts';
import type { L7Request } from '../../../server/policy/l7/l7-rule-types.ts';
import type { Prng } from './prng.ts';
import type { FuzzClient, ReferencePolicy } from './reference-policy.ts';

/** How the filter may treat one frame: close the connection on it, or not. */
export type FilterClose =
  | 'never' // the server reads it unambiguously and normally: closing here is over-strict
  | 'may' // the server reads it, but in a non-canonical form the filter may refuse
  | 'must'; // the server's framing here cannot be mirrored by passing it (or the server closes): the filter must close

/** The server's reading of one request frame, produced by the protocol's server model. */
export interface ModelFrame {
  readonly start: number;
  /** Offset after the last byte the server consumes for this request. */
  readonly end: number;
  /** What the request does, for decide(); undefined when the server runs nothing for it. */
  readonly request: L7Request | undefined;
  /** A short human description (`get ok/a`, `binary 0x10 stat`), for reports. */
  readonly label: string;
  readonly filterClose: FilterClose;
  /** The server reads nothing after this frame (it closes, or stops reading the connection). */
  readonly serverStops: boolean;
  /** Byte-identical to the probe the filter puts in place of a denied request. */
  readonly isProbe: boolean;
}

export interface StreamReading {
  readonly frames: readonly ModelFrame[];
  /** Bytes after the last frame that do not complete a request yet. */
  readonly incompleteTail: number;
}

export interface ServerModel {
  /** Frames a client byte stream from its first byte as the server would. */
  read(stream: Uint8Array): StreamReading;
}

/** A fuzz policy and the clients it names (each case picks one client). */
export interface FuzzPolicy {
  readonly reference: ReferencePolicy;
  readonly clients: readonly FuzzClient[];
}

export interface FuzzProtocol {
  /** The parser name: build/filters/<name>.wasm, its root_id and l7proto. */
  readonly name: string;
  readonly model: ServerModel;
  readonly policies: readonly FuzzPolicy[];
  /** One session of requests from the protocol's grammar. */
  generate(prng: Prng): Uint8Array;
  /**
   * Optional: the same as deliveries, for protocols where the client must wait for an answer
   * before it may go on (a CQL client waits for STARTUP's answer). The host fuzzer then delivers
   * grammar sessions cut at least at these boundaries, each delivery answered before the next.
   */
  generateDeliveries?(prng: Prng): readonly Uint8Array[];
  /** Byte recordings of real clients' sessions, the seeds of mutation. */
  recordings(): readonly Uint8Array[];
  /** Protocol words that mutation splices in (command names, numbers at their limits, delimiters). */
  readonly dictionary: readonly Uint8Array[];
  /** A fake server for the Wasm test host that answers the way the real one would. */
  fakeServer(): FakeUpstream;
  /**
   * Optional: the protocol's own checks of one host case, in place of the framework's checks of
   * decisions and upstream frames (which assume one access-log entry per request frame; a CQL
   * QUERY logs one per statement and OPTIONS none). Returns the violations.
   */
  checkHostCase?(testCase: HostCaseView, connection: HostConnection): readonly string[];
}

/** What a protocol's own host check sees of a case. */
export interface HostCaseView {
  readonly policy: FuzzPolicy;
  readonly client: FuzzClient;
  readonly bytes: Uint8Array;
}
