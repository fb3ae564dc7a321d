// The weir CA: certificates written by our DER/X.509 code are accepted by node's X509Certificate and
// by `openssl verify` for their purpose (Envoy's acceptance is in test/integration); the generated
// CA key is 0600 and a readable one is refused; a CA the user made with openssl signs node
// certificates too; the enrolment record survives a restart, so revocations do.
import { execFileSync } from 'node:child_process';
import { generateKeyPairSync, X509Certificate } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CertificateAuthority } from '../../../server/pki/certificate-authority.ts';
import { NodeEnrolments } from '../../../server/pki/node-enrolments.ts';
import { caFingerprint, JoinTokens, parseJoinToken } from '../../../server/pki/join-tokens.ts';
import { issuedAtFromSerial } from '../../../server/pki/x509.ts';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'weir-ca-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const publicKey = () => generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).publicKey;

function opensslVerify(caFile: string, certificatePem: string, purpose: 'sslclient' | 'sslserver'): string {
  const file = path.join(dir, `leaf-${Math.random().toString(16).slice(2)}.pem`);
  fs.writeFileSync(file, certificatePem);
  return execFileSync('openssl', ['verify', '-CAfile', caFile, '-purpose', purpose, file], { encoding: 'utf8', stdio: 'pipe' }).trim();
}

describe('the weir CA', () => {
  const caDir = path.join(dir, 'generated');
  const ca = CertificateAuthority.open({ dir: caDir, trustDomain: 'weir.local' });

  it('generates its CA once, with the key readable only by its owner', () => {
    expect(fs.statSync(path.join(caDir, 'ca.key')).mode & 0o777).toBe(0o600);
    const again = CertificateAuthority.open({ dir: caDir, trustDomain: 'weir.local' });
    expect(again.certificatePem).toBe(ca.certificatePem);
    const certificate = new X509Certificate(ca.certificatePem);
    expect(certificate.ca).toBe(true);
    expect(certificate.publicKey.asymmetricKeyDetails?.namedCurve).toBe('prime256v1');
  });

  it('issues node certificates with one SPIFFE URI SAN, for client use, that node and openssl verify', () => {
    const issued = ca.issueNodeCertificate('edge-1', publicKey(), 3_600_000);
    const certificate = new X509Certificate(issued.certificatePem);
    expect(certificate.subjectAltName).toBe('URI:spiffe://weir.local/node/edge-1');
    expect(certificate.verify(new X509Certificate(ca.certificatePem).publicKey)).toBe(true);
    expect(certificate.serialNumber).toBe(issued.serial);
    expect(Math.abs((issuedAtFromSerial(issued.serial) ?? 0) - Date.now())).toBeLessThan(60_000);
    expect(new Date(certificate.validTo).getTime() - Date.now()).toBeLessThanOrEqual(3_600_000);
    expect(opensslVerify(ca.certificateFile, issued.certificatePem, 'sslclient')).toMatch(/: OK$/);
    expect(() => opensslVerify(ca.certificateFile, issued.certificatePem, 'sslserver')).toThrow();
  });

  it('issues the server certificate with its SPIFFE ID and the names clients dial, for server use', () => {
    const server = ca.issueServerCertificate({ dnsNames: ['localhost'], ips: ['127.0.0.1', '::1'] }, 3_600_000);
    expect(new X509Certificate(server.certificatePem).subjectAltName).toBe('URI:spiffe://weir.local/weir-serve, DNS:localhost, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1');
    expect(opensslVerify(ca.certificateFile, server.certificatePem, 'sslserver')).toMatch(/: OK$/);
  });

  it('refuses a node id that cannot be a SPIFFE path segment', () => {
    expect(() => ca.issueNodeCertificate('a/b', publicKey(), 1000)).toThrow('node id "a/b" cannot be certified');
  });

  it('refuses a CA key that group or others can read', () => {
    const leaky = path.join(dir, 'leaky');
    CertificateAuthority.open({ dir: leaky, trustDomain: 'weir.local' });
    fs.chmodSync(path.join(leaky, 'ca.key'), 0o644);
    expect(() => CertificateAuthority.open({ dir: leaky, trustDomain: 'weir.local' })).toThrow(/is readable by group or others \(mode 644\); run chmod 600/);
  });

  it('signs with a CA the user made with openssl (RSA), under that CA\'s subject', () => {
    const userDir = path.join(dir, 'user-ca');
    fs.mkdirSync(userDir);
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '2', '-subj', '/O=Example/CN=Example Root', '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'], { cwd: userDir, stdio: 'pipe' });
    const userCa = CertificateAuthority.open({ dir: path.join(dir, 'unused'), trustDomain: 'example.org', caFiles: { cert: path.join(userDir, 'ca.crt'), key: path.join(userDir, 'ca.key') } });
    const issued = userCa.issueNodeCertificate('edge-2', publicKey(), 3_600_000);
    expect(new X509Certificate(issued.certificatePem).issuer).toBe('O=Example\nCN=Example Root');
    expect(opensslVerify(path.join(userDir, 'ca.crt'), issued.certificatePem, 'sslclient')).toMatch(/: OK$/);
  });
});

describe('node enrolments', () => {
  it('supersede older certificates on re-enrolment, refuse revoked nodes, and survive a restart', () => {
    const enrolmentDir = path.join(dir, 'enrolments');
    let now = 1_000_000;
    const enrolments = new NodeEnrolments({ dir: enrolmentDir, now: () => now });
    expect(enrolments.refusal('edge-1', now)).toMatch(/is not enrolled/);
    const first = enrolments.enrol('edge-1');
    expect(enrolments.refusal('edge-1', first)).toBeUndefined();
    now += 10;
    const second = enrolments.enrol('edge-1');
    expect(enrolments.refusal('edge-1', first)).toMatch(/was superseded by a new enrolment/);
    expect(enrolments.refusal('edge-1', second)).toBeUndefined();
    now += 10;
    expect(enrolments.revoke('edge-1')).toBe(true);
    expect(enrolments.revoke('never-enrolled')).toBe(false);
    const restarted = new NodeEnrolments({ dir: enrolmentDir, now: () => now });
    expect(restarted.refusal('edge-1', second)).toMatch(/was revoked at/);
    expect(restarted.refusal('edge-1', now)).toMatch(/was revoked at/);
    const third = restarted.enrol('edge-1');
    expect(third).toBeGreaterThan(now);
    expect(restarted.refusal('edge-1', third)).toBeUndefined();
    expect(fs.statSync(path.join(enrolmentDir, 'enrolments.json')).mode & 0o777).toBe(0o600);
  });

  it('replicas that exchange enrolment records honour the same certificates, whatever order records arrive in', () => {
    let now = 2_000_000;
    const one = new NodeEnrolments({ dir: path.join(dir, 'replica-one'), now: () => now });
    const two = new NodeEnrolments({ dir: path.join(dir, 'replica-two'), now: () => now });
    const shared: Array<{ nodeId: string; enrolledAtMs: number; revokedAtMs?: number }> = [];
    one.onChange((nodeId, record) => shared.push({ nodeId, ...record }));
    const first = one.enrol('edge-2');
    now += 10;
    one.revoke('edge-2');
    now += 10;
    const second = one.enrol('edge-2');
    expect(shared.map((entry) => entry.revokedAtMs !== undefined)).toEqual([false, true, false]);
    // Newest first, then the older ones: the older revocation changes nothing, and nothing is told back.
    const told: string[] = [];
    two.onChange((nodeId) => told.push(nodeId));
    for (const { nodeId, ...record } of [...shared].reverse()) two.merge(nodeId, record);
    expect(told).toEqual([]);
    expect(two.refusal('edge-2', second)).toBeUndefined();
    expect(two.refusal('edge-2', first)).toMatch(/was superseded|was revoked/);
    // A revocation made at the second replica reaches the first.
    now += 10;
    two.revoke('edge-2');
    const revoked = two.record('edge-2');
    expect(revoked?.revokedAtMs).toBe(now);
    expect(one.merge('edge-2', revoked ?? { enrolledAtMs: 0 })).toBe(true);
    expect(one.refusal('edge-2', second)).toMatch(/was revoked at/);
    expect(one.merge('edge-2', revoked ?? { enrolledAtMs: 0 })).toBe(false);
  });

  it('join tokens: one use, until they expire, stored only as a hash', () => {
    const ca = CertificateAuthority.open({ dir: path.join(dir, 'token-ca'), trustDomain: 'weir.local' });
    const tokenDir = path.join(dir, 'tokens');
    let now = 5_000_000;
    const tokens = new JoinTokens({ dir: tokenDir, now: () => now });
    const trust = { caPem: ca.certificatePem, trustDomain: 'weir.local' };
    const first = tokens.issue('edge-5', 60_000, trust);
    const parts = parseJoinToken(first.token);
    expect(parts).toMatchObject({ nodeId: 'edge-5', trustDomain: 'weir.local', caSha256: caFingerprint(ca.certificatePem) });
    expect(fs.readFileSync(path.join(tokenDir, 'join-tokens.json'), 'utf8')).not.toContain('secret' in parts ? parts.secret : '-');
    expect(fs.statSync(path.join(tokenDir, 'join-tokens.json')).mode & 0o777).toBe(0o600);
    expect(new JoinTokens({ dir: tokenDir, now: () => now }).redeem(first.token)).toEqual({ nodeId: 'edge-5' });
    expect(tokens.redeem(first.token)).toMatchObject({ refusal: expect.stringContaining('unknown, used or expired') });
    const second = tokens.issue('edge-6', 60_000, trust);
    expect(tokens.redeem(second.token)).toEqual({ nodeId: 'edge-6' });
    expect(tokens.redeem(second.token)).toMatchObject({ refusal: expect.stringContaining('unknown, used or expired') });
    const late = tokens.issue('edge-7', 60_000, trust);
    now += 60_001;
    expect(tokens.redeem(late.token)).toMatchObject({ refusal: expect.stringContaining('unknown, used or expired') });
    expect(tokens.redeem('not-a-token')).toMatchObject({ refusal: expect.stringContaining('not a Weir join token') });
  });
});
