// Sidecar endpoints from node metadata: validation, registration for as long as the node is
// connected plus a grace period, and merging into the compiled store state (store wins a clash).
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { readSidecarEndpoint, SidecarEndpointRegistry } from '../../../server/identity/sidecar-endpoints.ts';
import { DirectoryStore } from '../../../server/store/directory-store.ts';
import { SidecarAwareStore } from '../../../server/store/sidecar-aware-store.ts';
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

describe('SidecarAwareStore', () => {
  let directory: string | undefined;
  afterEach(async () => {
    if (directory !== undefined) await rm(directory, { recursive: true, force: true });
  });

  async function storeWith(files: Record<string, string>) {
    directory = await mkdtemp(path.join(os.tmpdir(), 'weir-sidecar-'));
    for (const [name, text] of Object.entries(files)) await writeFile(path.join(directory, name), text);
    const captured = capturingLogger('debug');
    const sidecars = new SidecarEndpointRegistry({ logger: captured.logger, timers: new ManualTimers() });
    const store = new SidecarAwareStore({ store: new DirectoryStore({ directory, enforcementMode: 'default', watchDirectory: false }), sidecars, logger: captured.logger });
    expect((await store.load()).ok).toBe(true);
    return { store, sidecars, lines: captured.entries };
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
    const events: string[] = [];
    store.watch((event) => events.push(event.kind));
    sidecars.streamOpened('node-a', webMetadata);
    const state = store.current();
    expect(state.revision).not.toBe(before);
    expect(events).toEqual(['updated']);
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
    const state = store.current();
    expect(state.endpoints.filter((entry) => entry.name === 'web').map((entry) => entry.ips)).toEqual([['127.0.0.9']]);
    expect(state.endpointSources?.get('web')).toBeUndefined();
    expect(lines.find((line) => line['level'] === 40)).toMatchObject({ nodeId: 'node-a', endpoint: 'web', keptFrom: 'store' });
    await store.close();
  });
});
