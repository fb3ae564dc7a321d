// Service-account identities: the identity of a peer known only by a SPIFFE ID (namespace and
// service account, docs/istio.md). Allow rules cover it only through what the ID proves; deny
// rules cover it as soon as they cover a pod running under the account.
import { describe, expect, it } from 'vitest';
import type { EndpointSpec } from '../../../server/identity/endpoints.ts';
import { CompiledFixture } from './compile-support.ts';

const endpoints: EndpointSpec[] = [
  { name: 'db', namespace: 'default', serviceAccount: 'db', labels: { app: 'db' }, ips: ['10.0.0.10'] },
  { name: 'web-1', namespace: 'default', serviceAccount: 'web', labels: { app: 'web', version: 'v1' }, ips: ['10.0.0.11'] },
  { name: 'web-2', namespace: 'default', serviceAccount: 'web', labels: { app: 'web', version: 'v2' }, ips: ['10.0.0.12'] },
  { name: 'spy', namespace: 'default', serviceAccount: 'web', labels: { app: 'spy' }, ips: ['10.0.0.13'] },
  { name: 'job', namespace: 'batch', serviceAccount: 'runner', labels: { app: 'job' }, ips: ['10.0.1.10'] },
  { name: 'nameless', labels: { app: 'nameless' }, ips: ['10.0.2.10'] },
];

const policy = (rules: string): string => `- endpointSelector: { matchLabels: { app: db } }\n${rules}`;
const toPort = 'toPorts: [{ ports: [{ port: "5432", protocol: TCP }] }]';

describe('service-account identities', () => {
  it('gives each namespace/service account one identity, labelled with the namespace and the account only', () => {
    const f = new CompiledFixture([], endpoints);
    const accounts = f.policySet.serviceAccountIdentities;
    expect(accounts.map((entry) => `${entry.namespace}/${entry.serviceAccount}`)).toEqual(['batch/runner', 'default/db', 'default/web']);
    const web = accounts.find((entry) => entry.serviceAccount === 'web')?.identity;
    expect(f.policySet.identities.find((identity) => identity.identity === web)?.labels).toEqual([
      'k8s:io.cilium.k8s.policy.serviceaccount=web',
      'k8s:io.kubernetes.pod.namespace=default',
    ]);
    expect(web).not.toBe(f.identity('web-1'));
  });

  it('lets an allow rule on the service account or the namespace cover the SPIFFE peer, and one on pod labels not', () => {
    const byAccount = new CompiledFixture([policy(`  ingress:\n    - fromEndpoints: [{ matchLabels: { io.cilium.k8s.policy.serviceaccount: web } }]\n      ${toPort}\n`)], endpoints);
    const web = byAccount.policySet.serviceAccountIdentities.find((entry) => entry.serviceAccount === 'web')?.identity ?? 0;
    expect(byAccount.verdict('db', { direction: 'ingress', port: 5432, from: web })).toBe('allow');
    const byNamespace = new CompiledFixture([policy(`  ingress:\n    - fromEndpoints: [{ matchLabels: { k8s:io.kubernetes.pod.namespace: default } }]\n      ${toPort}\n`)], endpoints);
    expect(byNamespace.verdict('db', { direction: 'ingress', port: 5432, from: web })).toBe('allow');
    const runner = byNamespace.policySet.serviceAccountIdentities.find((entry) => entry.serviceAccount === 'runner')?.identity ?? 0;
    expect(byNamespace.verdict('db', { direction: 'ingress', port: 5432, from: runner })).toBe('deny');
    // app=web is a pod label: a certificate does not prove it (fail closed), the pod's address does.
    const byLabel = new CompiledFixture([policy(`  ingress:\n    - fromEndpoints: [{ matchLabels: { app: web } }]\n      ${toPort}\n`)], endpoints);
    expect(byLabel.verdict('db', { direction: 'ingress', port: 5432, from: web })).toBe('deny');
    expect(byLabel.verdict('db', { direction: 'ingress', port: 5432, from: 'web-1' })).toBe('allow');
  });

  it('lets a deny rule on any pod of the account cover the SPIFFE peer', () => {
    const f = new CompiledFixture([
      policy(`  ingress:\n    - fromEndpoints: [{ matchLabels: { k8s:io.kubernetes.pod.namespace: default } }]\n      ${toPort}\n  ingressDeny:\n    - fromEndpoints: [{ matchLabels: { app: spy } }]\n`),
    ], endpoints);
    const web = f.policySet.serviceAccountIdentities.find((entry) => entry.serviceAccount === 'web')?.identity ?? 0;
    expect(f.verdict('db', { direction: 'ingress', port: 5432, from: 'web-1' })).toBe('allow');
    expect(f.verdict('db', { direction: 'ingress', port: 5432, from: 'spy' })).toBe('deny');
    expect(f.verdict('db', { direction: 'ingress', port: 5432, from: web })).toBe('deny');
  });

  it('counts SPIFFE peers as cluster', () => {
    const f = new CompiledFixture([policy(`  ingress:\n    - fromEntities: [cluster]\n      ${toPort}\n`)], endpoints);
    const runner = f.policySet.serviceAccountIdentities.find((entry) => entry.serviceAccount === 'runner')?.identity ?? 0;
    expect(f.verdict('db', { direction: 'ingress', port: 5432, from: runner })).toBe('allow');
  });
});
