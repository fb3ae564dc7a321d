import { describe, expect, it } from 'vitest';
import { cidrContains, formatCidr, parseCidr } from '../../../server/identity/cidr.ts';
import { endpointFromSpec, validateEndpointSpec } from '../../../server/identity/endpoints.ts';
import { IdentityAllocator } from '../../../server/identity/identity-allocator.ts';
import { IpIdentityMap } from '../../../server/identity/ip-identity-map.ts';
import { labelsFromMap, labelSetKey, parseLabelKey } from '../../../server/identity/labels.ts';
import { ReservedIdentity } from '../../../server/identity/reserved-identities.ts';

function cidr(text: string) {
  const parsed = parseCidr(text);
  if (!parsed.ok) throw new Error(parsed.reason);
  return parsed.cidr;
}

describe('labels', () => {
  it('splits sources with ":", known sources with ".", and $ as reserved', () => {
    expect(parseLabelKey('k8s:app', 'any')).toEqual({ source: 'k8s', key: 'app' });
    expect(parseLabelKey('reserved.init', 'any')).toEqual({ source: 'reserved', key: 'init' });
    expect(parseLabelKey('$host', 'any')).toEqual({ source: 'reserved', key: 'host' });
    expect(parseLabelKey('io.cilium.k8s.policy.serviceaccount', 'any')).toEqual({ source: 'any', key: 'io.cilium.k8s.policy.serviceaccount' });
  });

  it('gives equal label sets the same canonical key whatever the order', () => {
    expect(labelSetKey(labelsFromMap({ b: '2', a: '1' }))).toBe(labelSetKey(labelsFromMap({ a: '1', b: '2' })));
    expect(labelSetKey(labelsFromMap({ a: '1' }))).toBe('k8s:a=1');
  });
});

describe('Cilium reserved identities', () => {
  it('use Cilium numbers', () => {
    expect(ReservedIdentity).toEqual({ host: 1, world: 2, unmanaged: 3, health: 4, init: 5, 'remote-node': 6 });
  });
});

describe('identity allocation', () => {
  it('derives the same identity for the same labels in a fresh allocator (stable across restarts)', () => {
    const labels = labelsFromMap({ app: 'memcd-server' });
    const first = new IdentityAllocator({ first: 256, last: 65535 }).identityFor(labels);
    const second = new IdentityAllocator({ first: 256, last: 65535 }).identityFor(labelsFromMap({ app: 'memcd-server' }));
    expect(first).toBe(second);
    expect(first).toBeGreaterThanOrEqual(256);
    expect(first).toBeLessThanOrEqual(65535);
  });

  it('gives different label sets different identities, probing on collision in canonical order', () => {
    const allocator = new IdentityAllocator({ first: 256, last: 258 });
    const sets = [labelsFromMap({ app: 'a' }), labelsFromMap({ app: 'b' }), labelsFromMap({ app: 'c' })];
    const identities = allocator.identitiesFor(sets);
    expect(new Set(identities.values())).toEqual(new Set([256, 257, 258]));
    const reversed = new IdentityAllocator({ first: 256, last: 258 }).identitiesFor([...sets].reverse());
    expect([...reversed.entries()].sort()).toEqual([...identities.entries()].sort());
    expect(() => allocator.identityFor(labelsFromMap({ app: 'd' }))).toThrow('identity range 256..258 is exhausted');
  });

  it('keeps an identity while its label set lives and frees it when released', () => {
    const allocator = new IdentityAllocator({ first: 256, last: 257 });
    const a = allocator.identityFor(labelsFromMap({ app: 'a' }));
    allocator.identityFor(labelsFromMap({ app: 'b' }));
    allocator.releaseAllExcept(new Set([labelSetKey(labelsFromMap({ app: 'a' }))]));
    expect(allocator.identityFor(labelsFromMap({ app: 'a' }))).toBe(a);
    expect(allocator.identityFor(labelsFromMap({ app: 'c' }))).not.toBe(a);
  });
});

describe('endpoints', () => {
  it('turn namespace and service account into Cilium k8s labels', () => {
    const endpoint = endpointFromSpec({ name: 'leia', namespace: 'rebels', serviceAccount: 'leia', labels: { app: 'web' }, ips: ['10.0.0.5'] });
    expect(endpoint.labels).toEqual([
      { source: 'k8s', key: 'app', value: 'web' },
      { source: 'k8s', key: 'io.cilium.k8s.policy.serviceaccount', value: 'leia' },
      { source: 'k8s', key: 'io.kubernetes.pod.namespace', value: 'rebels' },
    ]);
  });

  it('carry only reserved:init while their labels are unknown', () => {
    const endpoint = endpointFromSpec({ name: 'new', ips: ['10.0.0.6'] });
    expect(endpoint.labelsKnown).toBe(false);
    expect(endpoint.labels).toEqual([{ source: 'reserved', key: 'init', value: '' }]);
  });

  it('report every invalid field', () => {
    expect(validateEndpointSpec({ name: '', ips: ['10.0.0.1', 'nope', '10.0.0.0/8'] }).map(({ field, reason }) => `${field}: ${reason}`)).toEqual([
      'name: required, a non-empty string',
      'ips[1]: "nope" is not an IP address',
      'ips[2]: "10.0.0.0/8" is not an IP address',
    ]);
  });
});

describe('CIDRs', () => {
  it('parse IPv4 and IPv6, reject host bits, and test containment', () => {
    expect(formatCidr(cidr('10.0.0.0/8'))).toBe('10.0.0.0/8');
    expect(formatCidr(cidr('fd00:0:0:0::/64'))).toBe('fd00::/64');
    expect(formatCidr(cidr('::ffff:10.0.0.1'))).toBe('::ffff:a00:1/128');
    expect(parseCidr('10.0.0.1/8')).toEqual({ ok: false, reason: '"10.0.0.1/8" has host bits set; did you mean 10.0.0.0/8?' });
    expect(cidrContains(cidr('10.0.0.0/8'), cidr('10.96.0.0/12'))).toBe(true);
    expect(cidrContains(cidr('10.96.0.0/12'), cidr('10.0.0.0/8'))).toBe(false);
    expect(cidrContains(cidr('10.0.0.0/8'), cidr('fd00::/64'))).toBe(false);
  });
});

describe('IP -> identity map', () => {
  it('uses the longest matching prefix for IPv4 and IPv6, and world for unknown addresses', () => {
    const map = new IpIdentityMap();
    map.set(cidr('10.0.0.0/8'), 1000);
    map.set(cidr('10.96.0.0/12'), 1001);
    map.set(cidr('10.96.0.7/32'), 300);
    map.set(cidr('fd00::/16'), 2000);
    map.set(cidr('fd00::1/128'), 301);
    expect(map.lookup('10.1.2.3')).toBe(1000);
    expect(map.lookup('10.100.0.1')).toBe(1001);
    expect(map.lookup('10.96.0.7')).toBe(300);
    expect(map.lookup('fd00::2')).toBe(2000);
    expect(map.lookup('fd00::1')).toBe(301);
    expect(map.lookup('192.168.1.1')).toBe(ReservedIdentity.world);
    expect(map.lookup('2001:db8::1')).toBe(ReservedIdentity.world);
    expect(map.lookup('not-an-ip')).toBe(ReservedIdentity.world);
  });

  it('lists entries in a deterministic order', () => {
    const map = new IpIdentityMap();
    map.set(cidr('fd00::/16'), 3);
    map.set(cidr('10.96.0.0/12'), 2);
    map.set(cidr('10.0.0.0/8'), 1);
    expect(map.entries()).toEqual([
      { cidr: '10.0.0.0/8', identity: 1 },
      { cidr: '10.96.0.0/12', identity: 2 },
      { cidr: 'fd00::/16', identity: 3 },
    ]);
  });
});
