// The IP -> security identity map the Weir agent publishes in shared data (`weir/identities`,
// JSON {"entries":[{"cidr":"127.0.0.2/32","identity":1234}, ...], "serviceAccounts":
// [{"namespace":"default","serviceAccount":"a-wing","identity":5678}, ...]}, see
// docs/policy-wire.md): reading and validating it, longest-prefix lookup of an address, and the
// identity of a service account (for SPIFFE peers, spiffe-id.ts). An address no entry covers
// is `world` (2). Reading allocates (configuration time); lookup allocates nothing but parses the
// address text it is given. Knows nothing about where the JSON comes from (policy-shared-data.ts).
import { JsonReader } from '../bytes/json-reader';

export const WORLD_IDENTITY: u32 = 2;

// One prefix; IPv4 addresses are kept as IPv4-mapped IPv6 (::ffff:a.b.c.d) so one table serves both.
class IdentityPrefix {
  constructor(
    public high: u64,
    public low: u64,
    public bits: i32, // prefix length in the 128-bit space
    public identity: u32,
  ) {}

  contains(high: u64, low: u64): bool {
    return (high & maskHigh(this.bits)) == this.high && (low & maskLow(this.bits)) == this.low;
  }
}

export class IdentityTable {
  private prefixes: Array<IdentityPrefix> = new Array<IdentityPrefix>();
  // "namespace/serviceAccount" -> identity
  private accounts: Map<string, u32> = new Map<string, u32>();

  get size(): i32 {
    return this.prefixes.length;
  }

  // The identity of `address` (an IP literal, or "ip:port" / "[ipv6]:port" as Envoy formats
  // source.address); world when no prefix covers it or the text is not an address.
  lookup(address: string): u32 {
    const parsed = new ParsedAddress();
    if (!parsed.parse(hostOf(address))) return WORLD_IDENTITY;
    let bestBits: i32 = -1;
    let best: u32 = WORLD_IDENTITY;
    for (let i = 0; i < this.prefixes.length; i++) {
      const prefix = this.prefixes[i];
      if (prefix.bits > bestBits && prefix.contains(parsed.high, parsed.low)) {
        bestBits = prefix.bits;
        best = prefix.identity;
      }
    }
    return best;
  }

  // The identity of a peer proven to run as this service account; -1 when the map has none.
  serviceAccountIdentity(namespace: string, serviceAccount: string): i64 {
    const key = namespace + '/' + serviceAccount;
    return this.accounts.has(key) ? <i64>this.accounts.get(key) : -1;
  }

  addServiceAccount(namespace: string, serviceAccount: string, identity: u32): void {
    this.accounts.set(namespace + '/' + serviceAccount, identity);
  }

  add(high: u64, low: u64, bits: i32, identity: u32): void {
    this.prefixes.push(new IdentityPrefix(high & maskHigh(bits), low & maskLow(bits), bits, identity));
  }
}

// Reads the published JSON; null with the reason in problem[0] when it is not a valid map.
export function readIdentityTable(base: usize, length: i32, problem: Array<string>): IdentityTable | null {
  const table = new IdentityTable();
  const reader = new JsonReader(base, length);
  if (reader.beginObject()) {
    while (true) {
      const key = reader.nextKey();
      if (key === null) break;
      if (key == 'entries') readEntries(reader, table);
      else if (key == 'serviceAccounts') readServiceAccounts(reader, table);
      else reader.skipValue();
    }
  }
  if (!reader.failed && !reader.atEnd()) reader.fail('unexpected bytes after the identity map object');
  if (reader.failed) {
    problem.push('identity map: ' + reader.problem);
    return null;
  }
  return table;
}

function readEntries(reader: JsonReader, table: IdentityTable): void {
  if (!reader.beginArray()) return;
  let index = 0;
  while (reader.nextElement()) {
    const where = 'entries[' + index.toString() + ']';
    let cidr = '';
    let identity: i64 = -1;
    if (!reader.beginObject()) return;
    while (true) {
      const key = reader.nextKey();
      if (key === null) break;
      if (key == 'cidr') cidr = reader.readString();
      else if (key == 'identity') identity = reader.readInteger(where + '.identity', 0, 4294967295.0, 0);
      else reader.skipValue();
    }
    if (reader.failed) return;
    if (identity < 0) {
      reader.fail(where + ': needs "identity"');
      return;
    }
    if (!addCidr(table, cidr, <u32>identity)) {
      reader.fail(where + '.cidr: "' + cidr + '" is not an IPv4 or IPv6 prefix');
      return;
    }
    index++;
  }
}

function readServiceAccounts(reader: JsonReader, table: IdentityTable): void {
  if (!reader.beginArray()) return;
  let index = 0;
  while (reader.nextElement()) {
    const where = 'serviceAccounts[' + index.toString() + ']';
    let namespace = '';
    let serviceAccount = '';
    let identity: i64 = -1;
    if (!reader.beginObject()) return;
    while (true) {
      const key = reader.nextKey();
      if (key === null) break;
      if (key == 'namespace') namespace = reader.readString();
      else if (key == 'serviceAccount') serviceAccount = reader.readString();
      else if (key == 'identity') identity = reader.readInteger(where + '.identity', 0, 4294967295.0, 0);
      else reader.skipValue();
    }
    if (reader.failed) return;
    if (identity < 0 || namespace.length == 0 || serviceAccount.length == 0) {
      reader.fail(where + ': needs "namespace", "serviceAccount" and "identity"');
      return;
    }
    table.addServiceAccount(namespace, serviceAccount, <u32>identity);
    index++;
  }
}

// Adds "a.b.c.d/n", "x:y::z/n" or a bare address (a host prefix).
function addCidr(table: IdentityTable, cidr: string, identity: u32): bool {
  const slash = cidr.indexOf('/');
  const addressText = slash < 0 ? cidr : cidr.substring(0, slash);
  const parsed = new ParsedAddress();
  if (!parsed.parse(addressText)) return false;
  const maxBits = parsed.isV4 ? 32 : 128;
  let bits = maxBits;
  if (slash >= 0) {
    bits = parseDecimal(cidr, slash + 1, cidr.length);
    if (bits < 0 || bits > maxBits) return false;
  }
  table.add(parsed.high, parsed.low, parsed.isV4 ? bits + 96 : bits, identity);
  return true;
}

// "1.2.3.4:5" -> "1.2.3.4"; "[::1]:5" -> "::1"; a bare address is returned as is.
export function hostOf(address: string): string {
  if (address.startsWith('[')) {
    const close = address.indexOf(']');
    return close < 0 ? address : address.substring(1, close);
  }
  const colon = address.indexOf(':');
  if (colon >= 0 && address.indexOf(':', colon + 1) < 0) return address.substring(0, colon);
  return address;
}

// An IPv4 or IPv6 address as 128 bits (IPv4 mapped into ::ffff:0:0/96).
class ParsedAddress {
  high: u64 = 0;
  low: u64 = 0;
  isV4: bool = false;

  parse(text: string): bool {
    if (text.indexOf(':') < 0) return this.parseV4(text);
    return this.parseV6(text);
  }

  private parseV4(text: string): bool {
    const value = parseV4Value(text, 0, text.length);
    if (value < 0) return false;
    this.isV4 = true;
    this.high = 0;
    this.low = (<u64>0xffff << 32) | <u64>value;
    return true;
  }

  // Groups of up to 4 hex digits, at most one "::", optionally an IPv4 tail.
  private parseV6(text: string): bool {
    const groups = new StaticArray<i32>(8);
    let count = 0;
    let gapAt = -1;
    let position = 0;
    const end = text.length;
    if (text.startsWith('::')) {
      gapAt = 0;
      position = 2;
    }
    while (position < end) {
      let next = text.indexOf(':', position);
      if (next < 0) next = end;
      const part = text.substring(position, next);
      if (part.indexOf('.') >= 0 && next == end) {
        const v4 = parseV4Value(text, position, end);
        if (v4 < 0 || count > 6) return false;
        groups[count++] = <i32>(v4 >>> 16);
        groups[count++] = <i32>(v4 & 0xffff);
        position = end;
        break;
      }
      const group = parseHexGroup(part);
      if (group < 0 || count >= 8) return false;
      groups[count++] = group;
      if (next == end) {
        position = end;
        break;
      }
      if (next + 1 < end && text.charCodeAt(next + 1) == 0x3a) {
        if (gapAt >= 0) return false;
        gapAt = count;
        position = next + 2;
      } else {
        position = next + 1;
        if (position == end) return false; // trailing single ':'
      }
    }
    if (gapAt < 0 && count != 8) return false;
    if (gapAt >= 0 && count > 7) return false;
    const full = new StaticArray<i32>(8);
    const missing = 8 - count;
    for (let i = 0; i < count; i++) full[gapAt >= 0 && i >= gapAt ? i + missing : i] = groups[i];
    this.high = 0;
    this.low = 0;
    for (let i = 0; i < 4; i++) this.high = (this.high << 16) | <u64>full[i];
    for (let i = 4; i < 8; i++) this.low = (this.low << 16) | <u64>full[i];
    this.isV4 = false;
    return true;
  }
}

// Dotted quad in text[begin, end) as a u32 (in an i64), or -1.
function parseV4Value(text: string, begin: i32, end: i32): i64 {
  let value: i64 = 0;
  let position = begin;
  for (let octets = 0; octets < 4; octets++) {
    let next = text.indexOf('.', position);
    if (next < 0 || next > end) next = end;
    if ((octets == 3) != (next == end)) return -1; // exactly four octets
    const octet = parseDecimal(text, position, next);
    if (octet < 0 || octet > 255 || next - position > 3) return -1;
    value = (value << 8) | <i64>octet;
    position = next + 1;
  }
  return value;
}

// Decimal digits text[begin, end) (1 to 9 of them), or -1.
function parseDecimal(text: string, begin: i32, end: i32): i32 {
  if (end <= begin || end - begin > 9) return -1;
  let value = 0;
  for (let i = begin; i < end; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x30 || c > 0x39) return -1;
    value = value * 10 + (c - 0x30);
  }
  return value;
}

function parseHexGroup(part: string): i32 {
  if (part.length == 0 || part.length > 4) return -1;
  let value = 0;
  for (let i = 0; i < part.length; i++) {
    const c = part.charCodeAt(i);
    let digit = -1;
    if (c >= 0x30 && c <= 0x39) digit = c - 0x30;
    else if (c >= 0x61 && c <= 0x66) digit = c - 0x61 + 10;
    else if (c >= 0x41 && c <= 0x46) digit = c - 0x41 + 10;
    if (digit < 0) return -1;
    value = (value << 4) | digit;
  }
  return value;
}

function maskHigh(bits: i32): u64 {
  if (bits <= 0) return 0;
  if (bits >= 64) return u64.MAX_VALUE;
  return u64.MAX_VALUE << <u64>(64 - bits);
}

function maskLow(bits: i32): u64 {
  if (bits <= 64) return 0;
  if (bits >= 128) return u64.MAX_VALUE;
  return u64.MAX_VALUE << <u64>(128 - bits);
}
