// What one stream asked for, per type URL, and how a request relates to what was sent: the shared
// subscription and ACK/NACK rules of both SotW and delta streams. Wildcard follows the xDS spec:
// `*` subscribes to everything; a type whose requests never named anything is a legacy wildcard;
// once anything was named, an empty set means nothing. ACK vs NACK is told by error_detail only.
// Speaks no gRPC and builds no resources.

export const WILDCARD_NAME = '*';

const NO_NAMES: ReadonlySet<string> = new Set();

export class TypeSubscription {
  /** Undefined while nothing is named (wildcard types): one Set fewer per stream and type. */
  #names: Set<string> | undefined;
  #explicitWildcard = false;
  #everNamed = false;

  get wildcard(): boolean {
    return this.#explicitWildcard || !this.#everNamed;
  }

  /** Explicit names (without `*`). */
  get names(): ReadonlySet<string> {
    return this.#names ?? NO_NAMES;
  }

  /**
   * SotW: the request carries the complete desired set. The set is replaced, never changed in
   * place, so a SotW stream may keep the old one as the names it delivered.
   */
  replaceNames(requested: readonly string[]): void {
    // An ACK repeats the names it already asked for: nothing to rebuild.
    if (this.#sameNames(requested)) return;
    if (requested.length > 0) this.#everNamed = true;
    this.#explicitWildcard = requested.includes(WILDCARD_NAME);
    const names = requested.filter((name) => name !== WILDCARD_NAME);
    this.#names = names.length > 0 ? new Set(names) : undefined;
  }

  /** Delta: add names. The first delta request of a type with nothing to subscribe is a legacy wildcard. */
  subscribe(requested: readonly string[]): void {
    if (requested.length > 0) this.#everNamed = true;
    for (const name of requested) {
      if (name === WILDCARD_NAME) this.#explicitWildcard = true;
      else (this.#names ??= new Set()).add(name);
    }
  }

  /** Delta: drop names; unknown names are ignored. Returns the names that were really dropped. */
  unsubscribe(requested: readonly string[]): string[] {
    if (requested.length > 0) this.#everNamed = true;
    const dropped: string[] = [];
    for (const name of requested) {
      if (name === WILDCARD_NAME) this.#explicitWildcard = false;
      else if (this.#names?.delete(name)) dropped.push(name);
    }
    return dropped;
  }

  covers(name: string): boolean {
    return this.wildcard || (this.#names?.has(name) ?? false);
  }

  /** True when `requested` (SotW) asks for exactly what is subscribed now, wildcard included. */
  #sameNames(requested: readonly string[]): boolean {
    if (requested.length === 0) return !this.#everNamed || (!this.#explicitWildcard && this.#names === undefined);
    if (!this.#everNamed) return false;
    let wildcard = false;
    let named = 0;
    for (const name of requested) {
      if (name === WILDCARD_NAME) wildcard = true;
      else if (this.#names?.has(name)) named += 1;
      else return false;
    }
    return wildcard === this.#explicitWildcard && named === (this.#names?.size ?? 0);
  }
}

export type ResponseAcknowledgement =
  /** No response of this type sent yet, or the request carries no nonce: a new request. */
  | { kind: 'request' }
  /** Echoes the latest nonce without error_detail: the sent version is applied. */
  | { kind: 'ack' }
  /** Echoes the latest nonce with error_detail: the sent version is rejected. */
  | { kind: 'nack'; message: string }
  /** Echoes an older nonce: superseded by a response the proxy has not seen yet. */
  | { kind: 'stale' };

export interface ErrorDetail {
  code: number;
  message: string;
}

const REQUEST: ResponseAcknowledgement = { kind: 'request' };
const STALE: ResponseAcknowledgement = { kind: 'stale' };
const ACK: ResponseAcknowledgement = { kind: 'ack' };

/** Classifies a request against the latest nonce sent for its type on this stream. */
export function classifyAcknowledgement(
  latestNonce: string | undefined,
  responseNonce: string,
  errorDetail: ErrorDetail | null | undefined,
): ResponseAcknowledgement {
  if (responseNonce === '' || latestNonce === undefined) return REQUEST;
  if (responseNonce !== latestNonce) return STALE;
  if (errorDetail) return { kind: 'nack', message: errorDetail.message || `error code ${errorDetail.code}` };
  return ACK;
}

/** Per-stream nonces: unique within the stream, never reused. */
export class NonceSequence {
  #next = 1;
  next(): string {
    return String(this.#next++);
  }
}
