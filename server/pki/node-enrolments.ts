// Which node certificates the server still honours, beyond what TLS checks (signature, validity).
// Per node id: when it was last enrolled (a new enrolment supersedes every certificate issued
// before it, so one node id never has two independent key lineages) and whether it was revoked
// (every certificate issued up to then is refused, renewal too, until it is enrolled again).
// Certificates carry their issue time in the serial (x509.ts timedSerial). Kept in
// `<pki dir>/enrolments.json` (0600), so restarts keep revocations.
import fs from 'node:fs';
import path from 'node:path';
import { writeFileAtomically } from './private-files.ts';

export interface NodeEnrolment {
  nodeId: string;
  enrolledAt: Date;
  revokedAt: Date | undefined;
}

interface EnrolmentRecord {
  enrolledAtMs: number;
  revokedAtMs?: number;
}

const FILE_NAME = 'enrolments.json';

export class NodeEnrolments {
  readonly #file: string;
  readonly #records = new Map<string, EnrolmentRecord>();
  readonly #now: () => number;

  constructor(options: { dir: string; now?: () => number }) {
    this.#file = path.join(options.dir, FILE_NAME);
    this.#now = options.now ?? Date.now;
    this.#load();
  }

  /**
   * Enrols `nodeId` anew and returns the issue time its new certificate must carry: certificates
   * issued earlier stop being honoured. Clears a revocation.
   */
  enrol(nodeId: string): number {
    const previous = this.#records.get(nodeId);
    // Strictly later than anything issued under the previous enrolment, even within one millisecond.
    const enrolledAtMs = Math.max(this.#now(), (previous?.enrolledAtMs ?? 0) + 1, (previous?.revokedAtMs ?? 0) + 1);
    this.#records.set(nodeId, { enrolledAtMs });
    this.#save();
    return enrolledAtMs;
  }

  /** Refuses every certificate of `nodeId` issued up to now; false if the node was never enrolled. */
  revoke(nodeId: string): boolean {
    const record = this.#records.get(nodeId);
    if (!record) return false;
    record.revokedAtMs = Math.max(this.#now(), record.enrolledAtMs);
    this.#save();
    return true;
  }

  /** Why a certificate of `nodeId` issued at `issuedAtMs` is not honoured, or undefined if it is. */
  refusal(nodeId: string, issuedAtMs: number | undefined): string | undefined {
    const record = this.#records.get(nodeId);
    if (!record) return `node "${nodeId}" is not enrolled with this server; enrol it with weir bootstrap (or weir enrol)`;
    if (issuedAtMs === undefined) return `the certificate of node "${nodeId}" was not issued by this server's CA for an enrolment (unknown serial format)`;
    if (record.revokedAtMs !== undefined && issuedAtMs <= record.revokedAtMs) {
      return `node "${nodeId}" was revoked at ${new Date(record.revokedAtMs).toISOString()}; enrol it again to give it a new certificate`;
    }
    if (issuedAtMs < record.enrolledAtMs) {
      return `this certificate of node "${nodeId}" (issued ${new Date(issuedAtMs).toISOString()}) was superseded by a new enrolment at ${new Date(record.enrolledAtMs).toISOString()}`;
    }
    return undefined;
  }

  list(): NodeEnrolment[] {
    return [...this.#records.entries()]
      .sort(([left], [right]) => left.localeCompare(right))
      .map(([nodeId, record]) => ({
        nodeId,
        enrolledAt: new Date(record.enrolledAtMs),
        revokedAt: record.revokedAtMs === undefined ? undefined : new Date(record.revokedAtMs),
      }));
  }

  #load(): void {
    if (!fs.existsSync(this.#file)) return;
    let parsed: unknown;
    try {
      parsed = JSON.parse(fs.readFileSync(this.#file, 'utf8'));
    } catch (error) {
      throw new Error(`${this.#file}: not valid JSON (${error instanceof Error ? error.message : String(error)}); restore it from a backup, or remove it and enrol every node again`);
    }
    const nodes = typeof parsed === 'object' && parsed !== null && 'nodes' in parsed ? (parsed as { nodes: unknown }).nodes : undefined;
    if (typeof nodes !== 'object' || nodes === null) throw new Error(`${this.#file}: expected {"nodes": {...}}`);
    for (const [nodeId, record] of Object.entries(nodes as Record<string, unknown>)) {
      const { enrolledAtMs, revokedAtMs } = (record ?? {}) as Partial<EnrolmentRecord>;
      if (typeof enrolledAtMs !== 'number' || (revokedAtMs !== undefined && typeof revokedAtMs !== 'number')) {
        throw new Error(`${this.#file}: nodes.${nodeId}: expected {"enrolledAtMs": number, "revokedAtMs"?: number}`);
      }
      this.#records.set(nodeId, revokedAtMs === undefined ? { enrolledAtMs } : { enrolledAtMs, revokedAtMs });
    }
  }

  #save(): void {
    fs.mkdirSync(path.dirname(this.#file), { recursive: true, mode: 0o700 });
    writeFileAtomically(this.#file, `${JSON.stringify({ nodes: Object.fromEntries(this.#records) }, null, 2)}\n`, 0o600);
  }
}
