// Kafka rules on the server: Cilium's `rules.kafka` as Cilium users write it (and as `l7proto:
// kafka`), roles expanded to API names with Weir's additions, import errors with field paths, and
// the reference semantics the filter follows (a topic rule does not constrain requests that name
// no topic; a request for every topic needs a rule without a topic).
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { projectRoot } from '../../../demo/servers/project-paths.ts';
import { KAFKA_ROLES, kafkaApiName, kafkaRules } from '../../../server/policy/l7/kafka-rules.ts';
import type { CompiledL7Rule, L7Request } from '../../../server/policy/l7/l7-rule-types.ts';
import { CompiledFixture } from './compile-support.ts';
import { ingressPolicy, problemsOf, rulesOf } from './support.ts';

function compiled(rule: Record<string, string>): CompiledL7Rule {
  const problems: string[] = [];
  const result = kafkaRules.compileRule(rule, (key, message) => problems.push(`${key ?? ''}: ${message}`));
  if (result === undefined) throw new Error(problems.join('\n'));
  return result;
}

const allows = (rule: Record<string, string>, request: L7Request): boolean => kafkaRules.matches(compiled(rule), request);

function kafkaPolicy(rulesYaml: string): string {
  return ingressPolicy(`      - toPorts:
          - ports: [{ port: "9092", protocol: TCP }]
            rules:
              kafka: ${rulesYaml}
`);
}

describe('kafka rules', () => {
  it('imports the Cilium Kafka guide\'s policy as written', () => {
    const text = fs.readFileSync(path.join(projectRoot, 'examples', 'policies', 'kafka-empire.yaml'), 'utf8');
    const rules = rulesOf(text);
    const l7 = rules.flatMap((rule) => rule.ingress.flatMap((peer) => peer.ports.map((port) => port.l7)));
    expect(l7.filter((set) => set !== undefined).map((set) => set!.l7proto)).toEqual(['kafka', 'kafka', 'kafka']);
  });

  it('expands roles to Cilium\'s API keys plus those current clients send', () => {
    expect(compiled({ role: 'Produce', topic: 'deathstar-plans' })).toEqual({
      apiKey: { match: 'set', value: 'produce', members: ['produce', 'metadata', 'apiversions', 'initproducerid', 'gettelemetrysubscriptions', 'pushtelemetry'] },
      topic: { match: 'exact', value: 'deathstar-plans' },
    });
    expect(KAFKA_ROLES['consume']!.map(kafkaApiName)).toEqual([
      'fetch', 'offsets', 'metadata', 'offsetcommit', 'offsetfetch', 'findcoordinator', 'joingroup', 'heartbeat', 'leavegroup', 'syncgroup', 'apiversions',
      'offsetforleaderepoch', 'consumergroupheartbeat', 'gettelemetrysubscriptions', 'pushtelemetry',
    ]);
  });

  it('takes API keys by name (any case, Cilium\'s spelling or Kafka\'s) or number, and versions as YAML numbers', () => {
    expect(compiled({ apiKey: 'OffsetCommit' })['apiKey']).toEqual({ match: 'set', value: 'offsetcommit', members: ['offsetcommit'] });
    expect(compiled({ apiKey: 'listoffsets' })['apiKey']).toEqual({ match: 'set', value: 'offsets', members: ['offsets'] });
    expect(compiled({ apiKey: '68' })['apiKey']).toEqual({ match: 'set', value: 'consumergroupheartbeat', members: ['consumergroupheartbeat'] });
    expect(problemsOf(kafkaPolicy('[{ apiKey: 1, apiVersion: 12, clientID: backup }]'))).toEqual([]);
  });

  it('reports each invalid rule with its field path', () => {
    expect(problemsOf(kafkaPolicy(`
                - { role: produce, apiKey: fetch }
                - { role: publish }
                - { apiKey: produc }
                - { apiVersion: "-1" }
                - { topic: "death star" }
                - { topic: ${'t'.repeat(256)} }
                - { partition: "0" }`))).toEqual([
      'policies/db.yaml: specs[0].ingress[0].toPorts[0].rules.kafka[0].apiKey: role "produce" and apiKey "fetch" cannot be in one rule; write two rules',
      'policies/db.yaml: specs[0].ingress[0].toPorts[0].rules.kafka[1].role: unknown kafka role "publish"; expected produce or consume',
      'policies/db.yaml: specs[0].ingress[0].toPorts[0].rules.kafka[2].apiKey: unknown kafka apiKey "produc"; expected an API name such as produce, fetch or metadata, or its number (see docs/parsers/kafka.md)',
      'policies/db.yaml: specs[0].ingress[0].toPorts[0].rules.kafka[3].apiVersion: invalid kafka apiVersion "-1"; expected a whole number 0..32767',
      'policies/db.yaml: specs[0].ingress[0].toPorts[0].rules.kafka[4].topic: invalid kafka topic "death star"; a topic name has only the characters a-z, A-Z, 0-9, \'.\', \'_\' and \'-\'',
      'policies/db.yaml: specs[0].ingress[0].toPorts[0].rules.kafka[5].topic: kafka topic exceeds the maximum length of 255 characters',
      'policies/db.yaml: specs[0].ingress[0].toPorts[0].rules.kafka[6].partition: unknown kafka rule key; kafka accepts role, apiKey, apiVersion, clientID, topic',
    ]);
  });

  it('accepts the same rules as l7proto: kafka, and refuses mixing both forms', () => {
    const l7 = ingressPolicy(`      - toPorts:
          - ports: [{ port: "9092", protocol: TCP }]
            rules: { l7proto: kafka, l7: [{ role: consume, topic: empire-announce }] }
`);
    expect(problemsOf(l7)).toEqual([]);
    const both = ingressPolicy(`      - toPorts:
          - ports: [{ port: "9092", protocol: TCP }]
            rules: { l7proto: kafka, l7: [{}], kafka: [{}] }
`);
    expect(problemsOf(both)).toEqual(['policies/db.yaml: specs[0].ingress[0].toPorts[0].rules.kafka: kafka rules cannot be combined with l7proto/l7 in one rules map']);
  });

  it('matches per topic; a rule\'s topic does not constrain requests that name no topic; every topic needs a rule without one', () => {
    const consume = { role: 'consume', topic: 'empire-announce' };
    expect(allows(consume, { apiKey: 'fetch', apiVersion: 11, topic: 'empire-announce' })).toBe(true);
    expect(allows(consume, { apiKey: 'fetch', apiVersion: 11, topic: 'deathstar-plans' })).toBe(false);
    expect(allows(consume, { apiKey: 'joingroup', apiVersion: 9 })).toBe(true);
    expect(allows(consume, { apiKey: 'produce', apiVersion: 9, topic: 'empire-announce' })).toBe(false);
    expect(allows(consume, { apiKey: 'metadata', apiVersion: 12, allTopics: 'true' })).toBe(false);
    expect(allows({ role: 'consume' }, { apiKey: 'metadata', apiVersion: 12, allTopics: 'true' })).toBe(true);
    expect(allows({ apiKey: 'fetch', apiVersion: '11', clientID: 'backup' }, { apiKey: 'fetch', apiVersion: 11, clientID: 'backup' })).toBe(true);
    expect(allows({ apiKey: 'fetch', apiVersion: '11', clientID: 'backup' }, { apiKey: 'fetch', apiVersion: 12, clientID: 'backup' })).toBe(false);
    expect(allows({ clientID: 'backup' }, { apiKey: 'fetch', apiVersion: 12 })).toBe(false);
  });

  it('decides the guide\'s policy per member', () => {
    const text = fs.readFileSync(path.join(projectRoot, 'examples', 'policies', 'kafka-empire.yaml'), 'utf8');
    const f = new CompiledFixture([text], [
      { name: 'kafka', labels: { app: 'kafka' }, ips: ['127.0.0.1'] },
      { name: 'empire-hq', labels: { app: 'empire-hq' }, ips: ['127.0.0.51'] },
      { name: 'empire-outpost', labels: { app: 'empire-outpost' }, ips: ['127.0.0.52'] },
    ]);
    const ask = (from: string, l7Request: L7Request) => f.verdict('kafka', { direction: 'ingress', port: 9092, from, l7Request });
    expect(ask('empire-hq', { apiKey: 'produce', apiVersion: 13, topic: 'deathstar-plans' })).toBe('allow');
    expect(ask('empire-outpost', { apiKey: 'produce', apiVersion: 13, topic: 'deathstar-plans' })).toBe('deny');
    expect(ask('empire-outpost', { apiKey: 'fetch', apiVersion: 18, topic: 'empire-announce' })).toBe('allow');
    expect(ask('empire-outpost', { apiKey: 'fetch', apiVersion: 18, topic: 'deathstar-plans' })).toBe('deny');
  });
});
