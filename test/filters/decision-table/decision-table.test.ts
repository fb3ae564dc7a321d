// Runs the decision table (cases.ts) twice per case: through the server's reference decision
// (decide() with the compiled policy, the peer's identity and the decoded record) and through the
// protocol's Wasm filter on the test host (the Weir agent in the same host process publishes the
// same compiled policy; the connection comes from the peer's address; the verdict is the type of
// the access-log entry the filter wrote for the request). Both must give the table's verdict; for a
// parser that declares its rule keys, so must the server's rules compiled from the build's manifest.
import { beforeAll, describe, expect, it } from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import { decide } from '../../../server/policy/decide.ts';
import { createL7RuleRegistry, defaultL7RuleRegistry, type L7RuleRegistry } from '../../../server/policy/l7-rule-keys.ts';
import { declaredRules, readRuleKeysDeclaration } from '../../../server/policy/l7/declared-rules.ts';
import { builtInDeclaration } from '../../../server/policy/l7/built-in-declarations.ts';
import { R2D2_RULE_KEYS } from '../../../server/policy/l7/r2d2-rules.ts';
import { MEMCACHE_COMMANDS, memcacheRules } from '../../../server/policy/l7/memcache-rules.ts';
import { CASSANDRA_OTHER_ACTIONS, CASSANDRA_TABLE_ACTIONS, cassandraRules } from '../../../server/policy/l7/cassandra-rules.ts';
import { KAFKA_ROLES, kafkaApiName, kafkaRules } from '../../../server/policy/l7/kafka-rules.ts';
import { HostProcess, silentUpstream, type FakeUpstream } from '../../../server/wasm-host/index.ts';
import { ENDPOINTS, compileResources, type CompiledResources } from '../agent/policy-resources.ts';
import { repoRoot } from '../envoy-harness.ts';
import { accessLog, agentWithPublishedPolicy, ensureFiltersBuilt, loadWeirFilter } from '../host-helpers.ts';
import { fakeCassandra, frame as cqlFrame, query, queryParams, shortBytes, startup } from '../parsers/cassandra/cql-wire.ts';
import { fakeBroker } from '../parsers/kafka/kafka-wire.ts';
import { fakeMemcached } from '../parsers/memcache/fake-memcached.ts';
import { DECISION_TABLES, tablePolicy, type Peer, type Protocol, type ProtocolTable } from './cases.ts';

const PEER_ADDRESS: Record<Peer, string> = { web: '127.0.0.2', admin: '127.0.0.3', stranger: '127.0.0.99' };

const UPSTREAM: Record<Protocol, () => FakeUpstream> = {
  r2d2: silentUpstream,
  memcache: () => fakeMemcached(),
  cassandra: () => fakeCassandra(),
  kafka: () => fakeBroker([{ name: 'empire-announce', id: Buffer.alloc(16, 1) }, { name: 'deathstar-plans', id: Buffer.alloc(16, 2) }]),
};

beforeAll(() => ensureFiltersBuilt('agent', ...DECISION_TABLES.map((table) => table.protocol)), 600_000);

/**
 * Protocols whose server rules are their declaration run by the generic code alone, as for a
 * parser from `weir parser new`. memcache, Cassandra and Kafka compile through the same code from
 * their declarations (checked equal to the build's manifests below) with an extension each
 * (server/policy/l7/declared-rules.ts DeclarationExtension).
 */
const DECLARATION_DRIVEN: ReadonlySet<Protocol> = new Set(['r2d2']);

/** The built-in registry with `protocol`'s rules compiled from the manifest its build wrote, when the server runs its declaration. */
function registryFromManifest(protocol: Protocol): L7RuleRegistry | undefined {
  const file = path.join(repoRoot, 'build', 'filters', `${protocol}.rules.json`);
  if (!DECLARATION_DRIVEN.has(protocol) || !fs.existsSync(file)) return undefined;
  const declared = declaredRules(readRuleKeysDeclaration(JSON.parse(fs.readFileSync(file, 'utf8')), file));
  return createL7RuleRegistry([...defaultL7RuleRegistry().values()].map((rules) => (rules.l7proto === protocol ? declared : rules)));
}

describe('rule keys declared once', () => {
  it("r2d2's module declares exactly the keys the server has built in", () => {
    const file = path.join(repoRoot, 'build', 'filters', 'r2d2.rules.json');
    expect(readRuleKeysDeclaration(JSON.parse(fs.readFileSync(file, 'utf8')), file)).toEqual(R2D2_RULE_KEYS);
  });

  it.each(['memcache', 'cassandra', 'kafka'] as const)("the server compiles %s's policies from exactly what its module declares", (protocol) => {
    const file = path.join(repoRoot, 'build', 'filters', `${protocol}.rules.json`);
    expect(builtInDeclaration(protocol), `server/policy/l7/declarations/${protocol}.rules.json differs from the build's; build the parser (node scripts/build-filters.mjs ${protocol}) to refresh it`).toEqual(readRuleKeysDeclaration(JSON.parse(fs.readFileSync(file, 'utf8')), file));
  });

  it("memcache's module declares the keys, command groups and exclusivity the server enforces", () => {
    const manifest = builtManifest('memcache');
    expect(manifest.keys.map((key) => key.name)).toEqual(memcacheRules.keys);
    expect(manifest.exclusive).toEqual(['keyExact', 'keyPrefix', 'keyRegex']);
    expect(Object.fromEntries(manifest.keys.map((key) => [key.name, key.logField]))).toEqual({ command: 'command', keyExact: 'keys', keyPrefix: 'keys', keyRegex: 'keys' });
    const command = manifest.keys.find((key) => key.name === 'command');
    expect(command?.groupFields).toEqual(['textCommands', 'binaryOpcodes']);
    const declared = Object.fromEntries((command?.groups ?? []).map((group) => [group.name, { text: group.members['textCommands'], binary: (group.members['binaryOpcodes'] ?? []).map(Number), keyless: group.keyless === true }]));
    const enforced = Object.fromEntries(Object.entries(MEMCACHE_COMMANDS).map(([name, group]) => [name, { text: [...group.text], binary: [...group.binary], keyless: group.keyless === true }]));
    expect(declared).toEqual(enforced);
  });

  it("Cassandra's module declares the actions, and those that take a table, the server enforces", () => {
    const manifest = builtManifest('cassandra');
    expect(manifest.keys.map((key) => key.name)).toEqual(cassandraRules.keys);
    const [action, table] = manifest.keys;
    // ALTER MATERIALIZED VIEW: the server accepts it now that it compiles from the declaration.
    expect(new Set(action?.values)).toEqual(new Set([...CASSANDRA_TABLE_ACTIONS, ...CASSANDRA_OTHER_ACTIONS, 'alter-materialized-view']));
    expect(table?.match).toBe('regex');
    expect(table?.onlyWith?.key).toBe('query_action');
    expect(new Set(table?.onlyWith?.values)).toEqual(new Set(CASSANDRA_TABLE_ACTIONS));
  });

  it("Kafka's module declares the keys, roles and exclusivity the server enforces", () => {
    const manifest = builtManifest('kafka');
    expect(manifest.keys.map((key) => key.name)).toEqual(kafkaRules.keys);
    expect(manifest.exclusive).toEqual(['role', 'apiKey']);
    const role = manifest.keys.find((key) => key.name === 'role');
    const declared = Object.fromEntries((role?.groups ?? []).map((group) => [group.name, [...(group.members['apiKey'] ?? [])].sort()]));
    const enforced = Object.fromEntries(Object.entries(KAFKA_ROLES).map(([name, keys]) => [name, keys.map(kafkaApiName).sort()]));
    expect(declared).toEqual(enforced);
    expect(role?.values).toEqual(Object.keys(KAFKA_ROLES));
  });
});

interface BuiltManifest {
  readonly exclusive?: readonly string[];
  readonly keys: readonly {
    readonly name: string;
    readonly match: string;
    readonly values: readonly string[];
    readonly logField: string;
    readonly onlyWith?: { readonly key: string; readonly values: readonly string[] };
    readonly groupFields?: readonly string[];
    readonly groups?: readonly { readonly name: string; readonly members: Readonly<Record<string, readonly string[]>>; readonly keyless?: boolean }[];
  }[];
}

/** The rule-key manifest the build wrote for `protocol` (read as the server reads one, then as JSON). */
function builtManifest(protocol: Protocol): BuiltManifest {
  const file = path.join(repoRoot, 'build', 'filters', `${protocol}.rules.json`);
  const parsed: unknown = JSON.parse(fs.readFileSync(file, 'utf8'));
  expect(readRuleKeysDeclaration(parsed, file).protocol).toBe(protocol);
  return parsed as BuiltManifest;
}

describe.each(DECISION_TABLES.map((table) => [table.protocol, table] as const))('%s: one decision semantics', (_protocol, table: ProtocolTable) => {
  let compiled: CompiledResources;
  let process: HostProcess;

  beforeAll(() => {
    compiled = compileResources([tablePolicy(table)], ENDPOINTS);
    process = agentWithPublishedPolicy(compiled);
  });

  const identityOf = (peer: Peer): number => (peer === 'stranger' ? 2 /* world */ : compiled.identityOf(peer));

  it.each(table.cases.map((c) => [c.name, c] as const))('%s', (_name, decisionCase) => {
    const endpoint = compiled.policySet.endpoints.find((candidate) => candidate.endpoint === 'db');
    if (endpoint === undefined) throw new Error('no compiled policy for db');
    const query = { direction: 'ingress', port: table.port, remoteIdentity: identityOf(decisionCase.peer), l7Request: decisionCase.record } as const;
    const reference = decide(endpoint, query);
    // With the rules the server learns from the module's manifest (as for a parser from `weir parser new`).
    const manifestRegistry = registryFromManifest(table.protocol);
    const fromManifest = manifestRegistry === undefined ? undefined : compileResources([tablePolicy(table)], ENDPOINTS, { registry: manifestRegistry }).policySet.endpoints.find((candidate) => candidate.endpoint === 'db');
    const manifestVerdict = fromManifest === undefined || manifestRegistry === undefined ? reference.verdict : decide(fromManifest, query, manifestRegistry).verdict;

    const filter = loadWeirFilter(table.protocol, table.protocol, { parser: table.protocol, policy: 'agent', endpoint: 'db', direction: 'ingress', port: table.port }, UPSTREAM[table.protocol], process);
    const connection = filter.openConnection({ source: { address: PEER_ADDRESS[decisionCase.peer], port: 40000 }, destination: { address: '127.0.0.10', port: table.port } });
    if (decisionCase.before !== undefined) connection.fromClient(decisionCase.before);
    const logged = accessLog(connection).length;
    connection.fromClient(decisionCase.wire);
    const entry = accessLog(connection).slice(logged).find((candidate) => candidate.type === 'Request' || candidate.type === 'Denied');
    const filterVerdict = entry === undefined ? `no Request or Denied entry (connection ${connection.isOpen ? 'open' : 'closed'})` : entry.type === 'Request' ? 'allow' : 'deny';

    expect({ reference: reference.verdict, manifest: manifestVerdict, filter: filterVerdict }).toEqual({ reference: decisionCase.expected, manifest: decisionCase.expected, filter: decisionCase.expected });
  });
});

describe('entries written without a decision carry the revision and both identities', () => {
  it('Cassandra: a query with a comment, USE and an unknown prepared id', () => {
    const table = DECISION_TABLES.find((candidate) => candidate.protocol === 'cassandra');
    if (table === undefined) throw new Error('no cassandra decision table');
    const compiled = compileResources([tablePolicy(table)], ENDPOINTS);
    const process = agentWithPublishedPolicy(compiled);
    const filter = loadWeirFilter('cassandra', 'cassandra', { parser: 'cassandra', policy: 'agent', endpoint: 'db', direction: 'ingress', port: table.port }, UPSTREAM['cassandra'], process);
    const connection = filter.openConnection({ source: { address: PEER_ADDRESS['web'], port: 40000 }, destination: { address: '127.0.0.10', port: table.port } });
    connection.fromClient(startup(4));
    connection.fromClient(query(4, 1, 'SELECT * FROM deathstar.scrum_notes -- why'));
    connection.fromClient(query(4, 2, 'USE deathstar'));
    connection.fromClient(cqlFrame(4, 3, 0x0a, Buffer.concat([shortBytes(Buffer.from('unknown-id')), queryParams(4)])));
    const entries = accessLog(connection).filter((entry) => entry.type === 'Request' || entry.type === 'Denied');
    expect(entries.map((entry) => [entry.type, entry.fields['query_action'] ?? entry.fields['error'] ?? ''])).toEqual([
      ['Denied', ''],
      ['Request', 'use'],
      ['Denied', 'unknown prepared query id'],
    ]);
    for (const entry of entries) {
      expect(entry).toMatchObject({ revision: expect.stringMatching(/.+/), sourceIdentity: compiled.identityOf('web'), destinationIdentity: compiled.identityOf('db') });
    }
  });
});
