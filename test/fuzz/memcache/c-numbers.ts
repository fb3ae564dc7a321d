// memcached's number fields as its C code reads them (util.c safe_strtoul/safe_strtol/
// safe_strtoull on 64-bit Linux, libc strtoul/strtol/strtoull in the C locale), so the fuzz model
// can say exactly which tokens memcached accepts and what value it takes: leading isspace, a sign,
// at least one digit, ERANGE beyond the 64-bit range, then the token must end or go on with an
// isspace byte (anything after that is ignored), and 32-bit results are truncated, not checked.

const U64_MAX = (1n << 64n) - 1n;
const I64_MAX = (1n << 63n) - 1n;

/** C isspace in the C locale: space, \t, \n, \v, \f, \r. */
export function isCSpace(byte: number): boolean {
  return byte === 0x20 || (byte >= 0x09 && byte <= 0x0d);
}

interface Scanned {
  negative: boolean;
  magnitude: bigint;
  /** Offset after the last digit. */
  end: number;
}

// strtol-family scan: whitespace, sign, decimal digits; undefined when no digit follows.
function scan(token: Uint8Array): Scanned | undefined {
  let at = 0;
  while (at < token.length && isCSpace(token[at] as number)) at++;
  let negative = false;
  if (token[at] === 0x2b || token[at] === 0x2d) {
    negative = token[at] === 0x2d;
    at++;
  }
  const digitsStart = at;
  let magnitude = 0n;
  while (at < token.length && (token[at] as number) >= 0x30 && (token[at] as number) <= 0x39) {
    magnitude = magnitude * 10n + BigInt((token[at] as number) - 0x30);
    at++;
  }
  if (at === digitsStart) return undefined;
  return { negative, magnitude, end: at };
}

// safe_strto*'s check after the number: the string ends there, or an isspace byte follows.
function endsCleanly(token: Uint8Array, end: number): boolean {
  return end === token.length || isCSpace(token[end] as number);
}

/** safe_strtoull: the value, or undefined when memcached rejects the token. */
export function safeStrtoull(token: Uint8Array): bigint | undefined {
  const scanned = scan(token);
  if (scanned === undefined || scanned.magnitude > U64_MAX || !endsCleanly(token, scanned.end)) return undefined;
  const value = scanned.negative ? (U64_MAX + 1n - scanned.magnitude) & U64_MAX : scanned.magnitude;
  // "(long long) ull < 0" with a '-' anywhere in the string is refused
  if (value > I64_MAX && token.includes(0x2d)) return undefined;
  return value;
}

/** safe_strtoul into a uint32_t: unsigned long (64-bit) then truncated to 32 bits. */
export function safeStrtoul(token: Uint8Array): number | undefined {
  const value = safeStrtoull(token);
  return value === undefined ? undefined : Number(value & 0xffffffffn);
}

/** safe_strtol into an int32_t: long (64-bit) then truncated to 32 bits, two's complement. */
export function safeStrtol(token: Uint8Array): number | undefined {
  const scanned = scan(token);
  if (scanned === undefined || !endsCleanly(token, scanned.end)) return undefined;
  const limit = scanned.negative ? I64_MAX + 1n : I64_MAX;
  if (scanned.magnitude > limit) return undefined;
  const value = scanned.negative ? -scanned.magnitude : scanned.magnitude;
  return Number(BigInt.asIntN(32, value));
}

/** True for plain decimal digits only (what Weir's filter reads without closing). */
export function isPlainDigits(token: Uint8Array, maxDigits: number): boolean {
  if (token.length === 0 || token.length > maxDigits) return false;
  return token.every((byte) => byte >= 0x30 && byte <= 0x39);
}

export function plainValue(token: Uint8Array): bigint {
  return BigInt(Buffer.from(token).toString('latin1'));
}
