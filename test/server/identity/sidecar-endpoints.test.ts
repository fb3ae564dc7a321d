// Sidecar endpoints from node metadata: validation, registration for as long as the node is
// connected plus a grace period, and compiling them with the store's (store wins a clash; an
// import that does not compile with them is refused).
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { readSidecarEndpoint, SidecarEndpointRegistry } from '../../../server/identity/sidecar-endpoints.ts';
import { DirectoryStore } from '../../../server/store/directory-store.ts';
import type { StoreEvent } from '../../../server/store/policy-store.ts';
import { structToJson } from '../../../server/xds/node-metadata.ts';
import { capturingLogger } from '../../support/capturing-logger.ts';

class ManualTimers {
  pending = new Map<number, () => void>();
  next = 0;
  setTimeout = (run: () => void): unknown => {
    this.next += 1;
    this.pending.set(this.next, run);
    return this.next;
  };
  clearTimeout = (timer: unknown): void => {
    this.pending.delete(timer as number);
  };
  fireAll(): void {
    const runs = [...this.pending.values()];
    this.pending.clear();
    for (const run of runs) run();
  }
}

const webMetadata = { 'weir.endpoint': { name: 'web', labels: { app: 'x' }, namespace: 'ns', serviceAccount: 'sa', ips: ['127.0.0.5'] } };

describe('readSidecarEndpoint', () => {
  it('reads a complete weir.endpoint struct', () => {
    const read = readSidecarEndpoint(webMetadata);
    expect(read).toEqual({ kind: 'endpoint', spec: { name: 'web', labels: { app: 'x' }, namespace: 'ns', serviceAccount: 'sa', ips: ['127.0.0.5'] } });
  });

  it('treats a node without weir.endpoint as announcing nothing', () => {
    expect(readSidecarEndpoint({ other: 1 })).toEqual({ kind: 'absent' });
  });

  it('reports every invalid field with its path', () => {
    const read = readSidecarEndpoint({ 'weir.endpoint': { name: '', labels: { app: 3 }, namespace: 7, ips: ['not-an-ip'], colour: 'red' } });
    expect(read.kind).toBe('invalid');
    const problems = read.kind === 'invalid' ? read.problems : [];
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^weir\.endpoint\.colour: unknown field/),
        'weir.endpoint.namespace: must be a string',
        expect.stringMatching(/^weir\.endpoint\.name: required/),
        'weir.endpoint.labels.app: must be a string',
        'weir.endpoint.ips[0]: "not-an-ip" is not an IP address',
      ]),
    );
  });

  it('reads the metadata as proto-loader decodes a Struct from Envoy (camelCase Value fields)', () => {
    const struct = {
      fields: {
        'weir.endpoint': {
          kind: 'structValue',
          structValue: {
            fields: {
              name: { kind: 'stringValue', stringValue: 'web' },
              ips: { kind: 'listValue', listValue: { values: [{ kind: 'stringValue', stringValue: '127.0.0.5' }] } },
            },
          },
        },
      },
    };
    expect(readSidecarEndpoint(structToJson(struct))).toEqual({ kind: 'endpoint', spec: { name: 'web', ips: ['127.0.0.5'] } });
  });

  it('reads the metadata with snake_case Value fields', () => {
    const struct = {
      fields: {
        'weir.endpoint': {
          kind: 'struct_value',
          struct_value: {
            fields: {
              name: { kind: 'string_value', string_value: 'web' },
              labels: { kind: 'struct_value', struct_value: { fields: { app: { kind: 'string_value', string_value: 'x' } } } },
              ips: { kind: 'list_value', list_value: { values: [{ kind: 'string_value', string_value: '127.0.0.5' }] } },
            },
          },
        },
      },
    };
    expect(readSidecarEndpoint(structToJson(struct))).toEqual({ kind: 'endpoint', spec: { name: 'web', labels: { app: 'x' }, ips: ['127.0.0.5'] } });
  });
});

describe('SidecarEndpointRegistry', () => {
  it('logs invalid metadata with the node id and field and registers nothing', () => {
    const { logger, entries: lines } = capturingLogger('debug');
    const registry = new SidecarEndpointRegistry({ logger });
    registry.streamOpened('node-a', { 'weir.endpoint': { name: 'web', ips: ['300.1.1.1'] } });
    expect(registry.list()).toEqual([]);
    const error = lines.find((line) => line['level'] === 50);
    expect(error).toMatchObject({ nodeId: 'node-a', problems: ['weir.endpoint.ips[0]: "300.1.1.1" is not an IP address'] });
  });

  it('keeps the endpoint while any stream of the node is open and for the grace period after', () => {
    const timers = new ManualTimers();
    const registry = new SidecarEndpointRegistry({ logger: capturingLogger('debug').logger, timers, graceMs: 1000 });
    let changes = 0;
    registry.watch(() => (changes += 1));
    const closeFirst = registry.streamOpened('node-a', webMetadata);
    const closeSecond = registry.streamOpened('node-a', webMetadata);
    expect(registry.list().map((entry) => [entry.nodeId, entry.endpoint.name])).toEqual([['node-a', 'web']]);
    expect(changes).toBe(1);
    closeFirst();
    expect(timers.pending.size).toBe(0);
    closeSecond();
    expect(timers.pending.size).toBe(1);
    expect(registry.list()).toHaveLength(1);
    timers.fireAll();
    expect(registry.list()).toEqual([]);
    expect(changes).toBe(2);
  });

  it('a reconnect within the grace period keeps the endpoint', () => {
    const timers = new ManualTimers();
    const registry = new SidecarEndpointRegistry({ logger: capturingLogger('debug').logger, timers });
    registry.streamOpened('node-a', webMetadata)();
    registry.streamOpened('node-a', webMetadata);
    timers.fireAll();
    expect(registry.list()).toHaveLength(1);
  });
});

describe('a store with sidecar endpoints', () => {
  let directory: string | undefined;
  afterEach(async () => {
    if (directory !== undefined) await rm(directory, { recursive: true, force: true });
  });

  async function storeWith(files: Record<string, string>) {
    directory = await mkdtemp(path.join(os.tmpdir(), 'weir-sidecar-'));
    for (const [name, text] of Object.entries(files)) await writeFile(path.join(directory, name), text);
    const captured = capturingLogger('debug');
    const sidecars = new SidecarEndpointRegistry({ logger: captured.logger, timers: new ManualTimers() });
    const store = new DirectoryStore({ directory, enforcementMode: 'default', watchDirectory: false, sidecars, logger: captured.logger });
    expect((await store.load()).ok).toBe(true);
    return { store, sidecars, lines: captured.entries };
  }

  /** The store's next event (a sidecar change recompiles in the store's queue). */
  function nextEvent(store: DirectoryStore): Promise<StoreEvent> {
    return new Promise((resolve) => {
      const stop = store.watch((event) => {
        stop();
        resolve(event);
      });
    });
  }

  const policy = `apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: { name: web-ingress }
spec:
  endpointSelector: { matchLabels: { app: x } }
  ingress:
    - fromEndpoints: [{ matchLabels: { app: client } }]
`;

  it('compiles policy for a sidecar endpoint and maps its IP to its identity', async () => {
    const { store, sidecars } = await storeWith({ 'web.yaml': policy });
    const before = store.current().revision;
    const updated = nextEvent(store);
    sidecars.streamOpened('node-a', webMetadata);
    expect((await updated).kind).toBe('updated');
    const state = store.current();
    expect(state.revision).not.toBe(before);
    const compiled = state.policySet.endpoints.find((entry) => entry.endpoint === 'web');
    expect(compiled?.ingress.enforcement).toBe('default-deny');
    expect(state.policySet.ipIdentities).toContainEqual({ cidr: '127.0.0.5/32', identity: compiled?.identity });
    expect(state.endpointSources?.get('web')).toBe('sidecar:node-a');
    await store.close();
  });

  it('a store endpoint wins a name clash, and the clash is logged', async () => {
    const endpoint = `apiVersion: weir.dev/v1
kind: Endpoint
metadata: { name: web }
spec: { labels: { app: other }, ips: [127.0.0.9] }
`;
    const { store, sidecars, lines } = await storeWith({ 'web.yaml': policy, 'endpoint.yaml': endpoint });
    sidecars.streamOpened('node-a', webMetadata);
    // Nothing changes for enforcement, so there is no event to wait for: wait for the warning.
    await expect.poll(() => lines.find((line) => line['level'] === 40)).toMatchObject({ nodeId: 'node-a', endpoint: 'web', keptFrom: 'store' });
    const state = store.current();
    expect(state.endpoints.filter((entry) => entry.name === 'web').map((entry) => entry.ips)).toEqual([['127.0.0.9']]);
    expect(state.endpointSources?.get('web')).toBeUndefined();
    await store.close();
  });

  // Two policies that each compile alone but put two L7 protocols on one port of an endpoint that
  // both select: only the sidecar `cache` (labels app=cache, tier=hot) is selected by both.
  const memcachePolicy = `apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: { name: cache-memcache }
spec:
  endpointSelector: { matchLabels: { app: cache } }
  ingress:
    - toPorts: [{ ports: [{ port: "11211", protocol: TCP }], rules: { l7proto: memcache, l7: [{ command: get }] } }]
`;
  const r2d2Policy = `apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: { name: hot-r2d2 }
spec:
  endpointSelector: { matchLabels: { tier: hot } }
  ingress:
    - toPorts: [{ ports: [{ port: "11211", protocol: TCP }], rules: { l7proto: r2d2, l7: [{ cmd: READ }] } }]
`;
  const cacheMetadata = { 'weir.endpoint': { name: 'cache', labels: { app: 'cache', tier: 'hot' }, namespace: 'ns', serviceAccount: 'sa', ips: ['127.0.0.7'] } };

  it('refuses an import that does not compile with the connected sidecars, and the previous policy keeps enforcing', async () => {
    const { store, sidecars } = await storeWith({ 'cache.yaml': memcachePolicy });
    const joined = nextEvent(store);
    sidecars.streamOpened('node-cache', cacheMetadata);
    expect((await joined).kind).toBe('updated');
    const before = store.current();
    const enforced = before.policySet.endpoints.find((entry) => entry.endpoint === 'cache');
    expect(enforced?.ingress.ports.map((port) => port.rules.map((rule) => rule.l7?.l7proto))).toEqual([['memcache']]);

    const result = await store.put('hot.yaml', r2d2Policy);

    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.problems.map((problem) => problem.message).join('\n')).toMatch(/endpoint "cache" ingress port 11211.*l7proto "(r2d2|memcache)" conflicts with "(memcache|r2d2)"/);
    // Nothing was written and nothing changed: the sidecar's endpoint is still enforced as before.
    expect(store.list().map((file) => file.name)).toEqual(['cache.yaml']);
    expect(await store.read('hot.yaml')).toBeUndefined();
    expect(store.current().revision).toBe(before.revision);
    expect(store.current().policySet.endpoints.find((entry) => entry.endpoint === 'cache')).toEqual(enforced);
    await store.close();
  });

  it('keeps the previous policy, for every endpoint, when a joining sidecar makes it fail to compile', async () => {
    const { store, sidecars } = await storeWith({ 'cache.yaml': memcachePolicy, 'hot.yaml': r2d2Policy });
    const before = store.current().revision;
    const event = nextEvent(store);
    sidecars.streamOpened('node-cache', cacheMetadata);
    const rejected = await event;
    expect(rejected.kind).toBe('rejected');
    if (rejected.kind !== 'rejected') return;
    expect(rejected.problems.map((problem) => problem.message).join('\n')).toMatch(/conflicts with[\s\S]*the connected sidecars announce; the previous policy stays in force/);
    expect(store.current().revision).toBe(before);
    expect(store.current().endpoints.map((entry) => entry.name)).not.toContain('cache');
    await store.close();
  });
});
