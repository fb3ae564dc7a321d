// Which node certificates the server still honours, beyond what TLS checks (signature, validity).
// Per node id: when it was last enrolled (a new enrolment supersedes every certificate issued
// before it, so one node id never has two independent key lineages) and whether it was revoked
// (every certificate issued up to then is refused, renewal too, until it is enrolled again).
// Certificates carry their issue time in the serial (x509.ts timedSerial). Kept in
// `<pki dir>/enrolments.json` (0600), so restarts keep revocations. Replicas that share proxies
// (etcd mode) exchange records and merge them (merge(): the later enrolment and the later
// revocation win), so every replica honours the same certificates whatever order records arrive in.
import fs from 'node:fs';
import path from 'node:path';
import { writeFileAtomically } from './private-files.ts';

export interface NodeEnrolment {
  nodeId: string;
  enrolledAt: Date;
  revokedAt: Date | undefined;
}

/** One node's record as replicas exchange it. */
export interface EnrolmentRecord {
  enrolledAtMs: number;
  revokedAtMs?: number;
}

const FILE_NAME = 'enrolments.json';

/**
 * Two records of one node as one: the later enrolment and the later revocation win (a revocation
 * older than the enrolment refuses nothing the enrolment's check does not, so it is dropped).
 */
export function mergeEnrolmentRecords(left: EnrolmentRecord | undefined, right: EnrolmentRecord): EnrolmentRecord {
  const enrolledAtMs = Math.max(left?.enrolledAtMs ?? 0, right.enrolledAtMs);
  const revokedAtMs = Math.max(left?.revokedAtMs ?? 0, right.revokedAtMs ?? 0);
  return revokedAtMs >= enrolledAtMs ? { enrolledAtMs, revokedAtMs } : { enrolledAtMs };
}

export function sameEnrolmentRecord(left: EnrolmentRecord, right: EnrolmentRecord): boolean {
  return left.enrolledAtMs === right.enrolledAtMs && left.revokedAtMs === right.revokedAtMs;
}

export class NodeEnrolments {
  readonly #file: string;
  readonly #records = new Map<string, EnrolmentRecord>();
  readonly #now: () => number;
  readonly #listeners: Array<(nodeId: string, record: EnrolmentRecord) => void> = [];

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
    this.#changed(nodeId);
    return enrolledAtMs;
  }

  /** Refuses every certificate of `nodeId` issued up to now; false if the node was never enrolled. */
  revoke(nodeId: string): boolean {
    const record = this.#records.get(nodeId);
    if (!record) return false;
    record.revokedAtMs = Math.max(this.#now(), record.enrolledAtMs);
    this.#save();
    this.#changed(nodeId);
    return true;
  }

  /** `nodeId`'s record (a copy), or undefined if it was never enrolled here. */
  record(nodeId: string): EnrolmentRecord | undefined {
    const record = this.#records.get(nodeId);
    return record === undefined ? undefined : { ...record };
  }

  /**
   * Adopts another replica's record of `nodeId`: the later enrolment and the later revocation
   * win (a revocation before the newest enrolment no longer refuses anything). Returns whether
   * this record changed. Local listeners are not told (the record came from elsewhere).
   */
  merge(nodeId: string, other: EnrolmentRecord): boolean {
    const record = this.#records.get(nodeId);
    const merged = mergeEnrolmentRecords(record, other);
    if (record !== undefined && sameEnrolmentRecord(record, merged)) return false;
    this.#records.set(nodeId, merged);
    this.#save();
    return true;
  }

  /** Calls `listener` after each enrolment or revocation made here (to share it with other replicas). */
  onChange(listener: (nodeId: string, record: EnrolmentRecord) => void): void {
    this.#listeners.push(listener);
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

  #changed(nodeId: string): void {
    const record = this.record(nodeId);
    if (record === undefined) return;
    for (const listener of this.#listeners) listener(nodeId, record);
  }

  #save(): void {
    fs.mkdirSync(path.dirname(this.#file), { recursive: true, mode: 0o700 });
    writeFileAtomically(this.#file, `${JSON.stringify({ nodes: Object.fromEntries(this.#records) }, null, 2)}\n`, 0o600);
  }
}
