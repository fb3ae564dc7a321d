// IPv4 and IPv6 addresses and prefixes as (family, bigint, length), so that containment and
// longest-prefix match are plain integer arithmetic. Owns parsing and formatting; the identity
// lookup table is ip-identity-map.ts.
import { isIPv4, isIPv6 } from 'node:net';

export type IpFamily = 4 | 6;

export interface Cidr {
  readonly family: IpFamily;
  /** The network address with host bits cleared. */
  readonly network: bigint;
  readonly prefixLength: number;
}

export type CidrParse = { ok: true; cidr: Cidr } | { ok: false; reason: string };

/** Parses `10.0.0.0/8`, `fd00::/64`, or a bare address (a /32 or /128). Host bits must be zero. */
export function parseCidr(text: string): CidrParse {
  const slash = text.indexOf('/');
  const addressText = slash < 0 ? text : text.slice(0, slash);
  const address = parseIp(addressText);
  if (address === undefined) return { ok: false, reason: `"${text}" is not an IPv4 or IPv6 address or CIDR` };
  const bits = address.family === 4 ? 32 : 128;
  let prefixLength = bits;
  if (slash >= 0) {
    const lengthText = text.slice(slash + 1);
    if (!/^\d{1,3}$/.test(lengthText) || Number(lengthText) > bits) {
      return { ok: false, reason: `"${text}" has prefix length "${lengthText}"; expected 0..${bits}` };
    }
    prefixLength = Number(lengthText);
  }
  const network = maskAddress(address.value, address.family, prefixLength);
  if (network !== address.value) {
    return { ok: false, reason: `"${text}" has host bits set; did you mean ${formatCidr({ family: address.family, network, prefixLength })}?` };
  }
  return { ok: true, cidr: { family: address.family, network, prefixLength } };
}

export function parseIp(text: string): { family: IpFamily; value: bigint } | undefined {
  if (isIPv4(text)) return { family: 4, value: text.split('.').reduce((acc, part) => (acc << 8n) | BigInt(Number(part)), 0n) };
  if (isIPv6(text)) return { family: 6, value: parseIpv6(text) };
  return undefined;
}

export function maskAddress(value: bigint, family: IpFamily, prefixLength: number): bigint {
  const bits = BigInt(family === 4 ? 32 : 128);
  const hostBits = bits - BigInt(prefixLength);
  return (value >> hostBits) << hostBits;
}

/** True when `inner` lies entirely inside `outer` (equal prefixes included). */
export function cidrContains(outer: Cidr, inner: Cidr): boolean {
  return (
    outer.family === inner.family &&
    inner.prefixLength >= outer.prefixLength &&
    maskAddress(inner.network, inner.family, outer.prefixLength) === outer.network
  );
}

export function formatCidr(cidr: Cidr): string {
  return `${formatIp(cidr.family, cidr.network)}/${cidr.prefixLength}`;
}

export function formatIp(family: IpFamily, value: bigint): string {
  if (family === 4) return [24n, 16n, 8n, 0n].map((shift) => String((value >> shift) & 255n)).join('.');
  const groups: string[] = [];
  for (let shift = 112n; shift >= 0n; shift -= 16n) groups.push(((value >> shift) & 0xffffn).toString(16));
  return compressIpv6(groups);
}

function parseIpv6(text: string): bigint {
  let body = text;
  let tail: number[] = [];
  const embeddedV4 = /^(.*:)(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (embeddedV4 !== null) {
    const octets = (embeddedV4[2] ?? '').split('.').map(Number);
    tail = [((octets[0] ?? 0) << 8) | (octets[1] ?? 0), ((octets[2] ?? 0) << 8) | (octets[3] ?? 0)];
    body = (embeddedV4[1] ?? '') + '0';
  }
  const [head = '', rest] = body.split('::');
  const headGroups = head === '' ? [] : head.split(':');
  const restGroups = rest === undefined || rest === '' ? [] : rest.split(':');
  if (tail.length > 0) (rest === undefined ? headGroups : restGroups).pop();
  const explicit = [...headGroups, ...restGroups].length + tail.length;
  const zeros = rest === undefined ? [] : new Array<string>(8 - explicit).fill('0');
  const groups = [...headGroups, ...zeros, ...restGroups].map((g) => parseInt(g, 16)).concat(tail);
  return groups.reduce((acc, group) => (acc << 16n) | BigInt(group), 0n);
}

function compressIpv6(groups: string[]): string {
  let bestStart = -1;
  let bestLength = 0;
  for (let i = 0; i < groups.length; ) {
    if (groups[i] !== '0') {
      i++;
      continue;
    }
    let j = i;
    while (j < groups.length && groups[j] === '0') j++;
    if (j - i > bestLength && j - i > 1) [bestStart, bestLength] = [i, j - i];
    i = j;
  }
  if (bestStart < 0) return groups.join(':');
  return `${groups.slice(0, bestStart).join(':')}::${groups.slice(bestStart + bestLength).join(':')}`;
}
