import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { formatProblem } from '../../../server/policy/policy-problems.ts';
import { decide } from '../../../server/policy/decide.ts';
import { DirectoryStore } from '../../../server/store/directory-store.ts';
import type { PolicyStoreState, StoreEvent } from '../../../server/store/policy-store.ts';

const endpoints = `apiVersion: weir.dev/v1
kind: Endpoint
metadata: { name: server }
spec: { labels: { app: r2d2-server }, ips: [127.0.0.10] }
---
apiVersion: weir.dev/v1
kind: Endpoint
metadata: { name: client }
spec: { labels: { app: r2d2-client }, ips: [127.0.0.11] }
`;

const readOnly = `apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: { name: r2d2 }
spec:
  endpointSelector: { matchLabels: { app: r2d2-server } }
  ingress:
    - fromEndpoints: [{ matchLabels: { app: r2d2-client } }]
      toPorts: [{ ports: [{ port: "3333", protocol: TCP }], rules: { l7proto: r2d2, l7: [{ cmd: READ }] } }]
`;

const badCommand = readOnly.replace('cmd: READ', 'cmd: REED');

function verdictFor(state: PolicyStoreState, cmd: string): string {
  const server = state.policySet.endpoints.find((e) => e.endpoint === 'server');
  const client = state.policySet.endpoints.find((e) => e.endpoint === 'client');
  if (server === undefined || client === undefined) return 'no endpoints';
  return decide(server, { direction: 'ingress', port: 3333, remoteIdentity: client.identity, l7Request: { cmd } }).verdict;
}

function nextEvent(store: DirectoryStore, timeoutMs = 5000): Promise<StoreEvent> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no store event within the timeout')), timeoutMs);
    const stop = store.watch((event) => {
      clearTimeout(timer);
      stop();
      resolve(event);
    });
  });
}

describe('DirectoryStore', () => {
  let directory: string;
  let store: DirectoryStore;

  beforeEach(async () => {
    directory = await mkdtemp(join(tmpdir(), 'weir-store-'));
    await writeFile(join(directory, 'endpoints.yaml'), endpoints);
    store = new DirectoryStore({ directory, enforcementMode: 'default', debounceMs: 20 });
    const loaded = await store.load();
    expect(loaded.ok).toBe(true);
  });

  afterEach(async () => {
    await store.close();
    await rm(directory, { recursive: true, force: true });
  });

  it('loads endpoints from the directory and compiles them', () => {
    expect(store.current().endpoints.map((e) => e.name).sort()).toEqual(['client', 'server']);
    expect(verdictFor(store.current(), 'WRITE')).toBe('allow');
  });

  it('put writes the file atomically, compiles the set and notifies watchers', async () => {
    const events: StoreEvent[] = [];
    store.watch((event) => events.push(event));
    const result = await store.put('r2d2.yaml', readOnly);
    expect(result.ok).toBe(true);
    expect(await readFile(join(directory, 'r2d2.yaml'), 'utf8')).toBe(readOnly);
    expect((await readdir(directory)).filter((name) => name.endsWith('.tmp'))).toEqual([]);
    expect(verdictFor(store.current(), 'READ')).toBe('allow');
    expect(verdictFor(store.current(), 'WRITE')).toBe('deny');
    expect(events.map((e) => e.kind)).toEqual(['updated']);
    expect(store.list().map((file) => [file.name, file.policies])).toEqual([
      ['endpoints.yaml', []],
      ['r2d2.yaml', ['r2d2']],
    ]);
  });

  it('rejects a bad put with file, path and reason, writes nothing and keeps the previous state', async () => {
    await store.put('r2d2.yaml', readOnly);
    const before = store.current().revision;
    const result = await store.put('r2d2.yaml', badCommand);
    expect(result.ok ? [] : result.problems.map(formatProblem)).toEqual([
      'r2d2.yaml: spec.ingress[0].toPorts[0].rules.l7[0].cmd: unknown r2d2 command "REED"; expected one of READ, WRITE, HALT, RESET (case-sensitive)',
    ]);
    expect(await readFile(join(directory, 'r2d2.yaml'), 'utf8')).toBe(readOnly);
    expect(store.current().revision).toBe(before);
    expect(verdictFor(store.current(), 'WRITE')).toBe('deny');
  });

  it('refuses file names with paths or without a YAML/JSON extension', async () => {
    const result = await store.put('../escape.yaml', readOnly);
    expect(result.ok ? [] : result.problems.map(formatProblem)).toEqual([
      '../escape.yaml: invalid file name; use letters, digits, ".", "_" or "-" and end in .yaml, .yml or .json',
    ]);
  });

  it('delete removes the file and the policy it held', async () => {
    await store.put('r2d2.yaml', readOnly);
    const result = await store.delete('r2d2.yaml');
    expect(result.ok).toBe(true);
    expect(await readdir(directory)).toEqual(['endpoints.yaml']);
    expect(verdictFor(store.current(), 'WRITE')).toBe('allow');
  });

  it('picks up a file written by hand', async () => {
    const event = nextEvent(store);
    await writeFile(join(directory, 'by-hand.yaml'), readOnly);
    const received = await event;
    expect(received.kind).toBe('updated');
    expect(verdictFor(store.current(), 'WRITE')).toBe('deny');
  });

  it('keeps the previous state when a hand-edited file is invalid, and reports why', async () => {
    await store.put('r2d2.yaml', readOnly);
    const event = nextEvent(store);
    await writeFile(join(directory, 'r2d2.yaml'), 'spec: [\n  broken: yes\n');
    const received = await event;
    expect(received.kind).toBe('rejected');
    expect(received.kind === 'rejected' ? received.problems.map(formatProblem)[0] : '').toMatch(/^r2d2\.yaml: YAML syntax error at line \d+/);
    expect(verdictFor(store.current(), 'READ')).toBe('allow');
    expect(verdictFor(store.current(), 'WRITE')).toBe('deny');
  });

  it('is all or nothing across files: a policy and an endpoint file that conflict are both refused', async () => {
    const duplicate = endpoints.split('---')[0] ?? '';
    const result = await store.put('more-endpoints.yaml', duplicate);
    expect(result.ok ? [] : result.problems.map(formatProblem)).toEqual([
      '(store): endpoint "server" is defined twice; endpoint names must be unique',
    ]);
    expect(await readdir(directory)).toEqual(['endpoints.yaml']);
  });

  it('keeps identities stable across changes', async () => {
    const before = store.current().policySet.endpoints.map((e) => [e.endpoint, e.identity]);
    await store.put('r2d2.yaml', readOnly);
    expect(store.current().policySet.endpoints.map((e) => [e.endpoint, e.identity])).toEqual(before);
  });

  it('reports invalid endpoint documents with their field paths', async () => {
    const result = await store.put('bad-endpoint.yaml', 'apiVersion: weir.dev/v1\nkind: Endpoint\nmetadata: { name: x }\nspec: { ips: [nope] }\n');
    expect(result.ok ? [] : result.problems.map(formatProblem)).toEqual(['bad-endpoint.yaml: spec.ips[0]: "nope" is not an IP address']);
  });
});
