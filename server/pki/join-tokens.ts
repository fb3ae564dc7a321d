// One-time join tokens: how a node on another machine enrols without the admin token. An admin
// asks for a token for one node id (`weir node token ID`); the node presents it once, with its
// public key, to `POST /v1/enrol` and receives its certificate. The token text carries the node
// id, a 32-byte secret, the trust domain and the SHA-256 of the CA certificate, so the node can
// check it talks to the right server before it sends the secret (kubeadm's discovery hash). The server keeps only
// the secret's hash, in `<pki dir>/join-tokens.json` (0600).
import { createHash, randomBytes, timingSafeEqual, X509Certificate } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { writeFileAtomically } from './private-files.ts';
import { nodeIdProblem } from './spiffe-id.ts';

export interface JoinToken {
  token: string;
  nodeId: string;
  expiresAt: Date;
}

/** What a token says, read without the server. */
export interface JoinTokenParts {
  nodeId: string;
  secret: string;
  /** SHA-256 (hex) of the CA certificate's DER. */
  caSha256: string;
  /** The server's SPIFFE trust domain (its certificate is spiffe://<trustDomain>/weir-serve). */
  trustDomain: string;
}

interface TokenRecord {
  nodeId: string;
  secretSha256: string;
  expiresAtMs: number;
}

const PREFIX = 'weirjoin1.';
const FILE_NAME = 'join-tokens.json';

export class JoinTokens {
  readonly #file: string;
  readonly #now: () => number;
  #records: TokenRecord[] = [];

  constructor(options: { dir: string; now?: () => number }) {
    this.#file = path.join(options.dir, FILE_NAME);
    this.#now = options.now ?? Date.now;
    this.#load();
  }

  /** A new one-time token for `nodeId`, valid `lifetimeMs`, pinned to the CA `caPem` of `trustDomain`. */
  issue(nodeId: string, lifetimeMs: number, trust: { caPem: string; trustDomain: string }): JoinToken {
    const problem = nodeIdProblem(nodeId);
    if (problem !== undefined) throw new Error(problem);
    const secret = randomBytes(32).toString('base64url');
    const expiresAtMs = this.#now() + lifetimeMs;
    this.#load();
    this.#records = [...this.#live(), { nodeId, secretSha256: sha256(secret), expiresAtMs }];
    this.#save();
    const parts: JoinTokenParts = { nodeId, secret, caSha256: caFingerprint(trust.caPem), trustDomain: trust.trustDomain };
    return { token: `${PREFIX}${Buffer.from(JSON.stringify(parts)).toString('base64url')}`, nodeId, expiresAt: new Date(expiresAtMs) };
  }

  /** Uses up `token`: the node it enrols, or why it cannot. */
  redeem(token: string): { nodeId: string } | { refusal: string } {
    const parts = parseJoinToken(token);
    if ('problem' in parts) return { refusal: parts.problem };
    const presented = Buffer.from(sha256(parts.secret), 'hex');
    this.#load(); // the file is the record: a token used through another handle is used
    const match = this.#live().find((record) => record.nodeId === parts.nodeId && timingSafeEqual(Buffer.from(record.secretSha256, 'hex'), presented));
    if (!match) return { refusal: `the join token for node "${parts.nodeId}" is unknown, used or expired; ask an admin for a new one (weir node token ${parts.nodeId})` };
    this.#records = this.#live().filter((record) => record !== match);
    this.#save();
    return { nodeId: match.nodeId };
  }

  #live(): TokenRecord[] {
    return this.#records.filter((record) => record.expiresAtMs > this.#now());
  }

  #load(): void {
    this.#records = fs.existsSync(this.#file) ? (JSON.parse(fs.readFileSync(this.#file, 'utf8')) as { tokens: TokenRecord[] }).tokens : [];
  }

  #save(): void {
    fs.mkdirSync(path.dirname(this.#file), { recursive: true, mode: 0o700 });
    writeFileAtomically(this.#file, `${JSON.stringify({ tokens: this.#records }, null, 2)}\n`, 0o600);
  }
}

/** Reads a token's parts (node id, secret, CA fingerprint). */
export function parseJoinToken(token: string): JoinTokenParts | { problem: string } {
  const malformed = { problem: `not a Weir join token (expected ${PREFIX}...); copy the whole output of weir node token` };
  if (!token.startsWith(PREFIX)) return malformed;
  try {
    const parts = JSON.parse(Buffer.from(token.slice(PREFIX.length), 'base64url').toString('utf8')) as Partial<JoinTokenParts>;
    if (typeof parts.nodeId !== 'string' || typeof parts.secret !== 'string' || typeof parts.caSha256 !== 'string' || typeof parts.trustDomain !== 'string') return malformed;
    return { nodeId: parts.nodeId, secret: parts.secret, caSha256: parts.caSha256, trustDomain: parts.trustDomain };
  } catch {
    return malformed;
  }
}

/** SHA-256 (hex) of a certificate's DER. */
export function caFingerprint(certificatePem: string): string {
  return createHash('sha256').update(new X509Certificate(certificatePem).raw).digest('hex');
}

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}
