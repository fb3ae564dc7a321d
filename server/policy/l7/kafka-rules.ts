// Kafka rule keys, as filters/parsers/kafka/rule-keys.ts declares them (Cilium's `rules.kafka`,
// pkg/policy/api/kafka): `role` (produce or consume, each a declared group of the API keys it
// needs), `apiKey` (an API name or number; not with `role`), `apiVersion` (a decimal 0..32767),
// `clientID` (exact) and `topic` (exact, up to 255 characters of [a-zA-Z0-9._-]). Role and apiKey
// compile to one `apiKey` set of API names, which is what the filter matches. A request is
// allowed when each topic it names is allowed by some rule (the filter decides per topic); a
// rule's topic does not constrain requests of API keys that name no topic (JoinGroup, Heartbeat,
// ...); a request for every topic (Metadata with a null list) needs a rule without a topic. Role
// and apiKey names are case-insensitive, as in Cilium. The extension (declared-rules.ts
// DeclarationExtension) keeps what the declaration cannot say: names in any case and API numbers
// (the API table, kafka-api-keys.ts), a role compiled into the apiKey key it groups, the version
// range and topic alphabet, the problem texts, and the reference matcher (topics, numbers).
import type { CompiledL7Constraint, CompiledL7Rule, L7ParserRules, RuleProblemSink } from './l7-rule-types.ts';
import { KAFKA_API_KEYS } from './kafka-api-keys.ts';
import { constraintHolds, textOf } from './constraint-matching.ts';
import { builtInDeclaration } from './built-in-declarations.ts';
import { declaredRules, type DeclarationExtension, type DeclaredRuleKey } from './declared-rules.ts';

const DECLARATION = builtInDeclaration('kafka');

/** An API key's policy name: its Kafka name in lower case, except key 2, which Cilium calls "offsets". */
export function kafkaApiName(key: number): string {
  if (key === 2) return 'offsets';
  const api = KAFKA_API_KEYS.find((entry) => entry.key === key);
  return api === undefined ? String(key) : api.name.toLowerCase();
}

const NAME_TO_KEY: ReadonlyMap<string, number> = new Map([
  ...KAFKA_API_KEYS.map((api) => [kafkaApiName(api.key), api.key] as const),
  ['listoffsets', 2] as const,
]);

/** The API keys of each role (from the declaration's groups), by number. */
export const KAFKA_ROLES: Readonly<Record<string, readonly number[]>> = Object.fromEntries(
  (DECLARATION.keys.find((key) => key.name === 'role')?.groups ?? []).map((group) => [group.name, (group.members['apiKey'] ?? []).map((name) => NAME_TO_KEY.get(name) ?? -1)]),
);

const TOPIC_PATTERN = /^[a-zA-Z0-9._-]+$/;
const MAX_TOPIC_LENGTH = 255;
const MAX_API_VERSION = 32767;

type Compiled = { key: string; constraint: CompiledL7Constraint } | undefined;

const KAFKA_EXTENSION: DeclarationExtension = {
  problems: {
    exclusive: (rule, present) => present.map((key) => `${key} ${JSON.stringify(rule[key] ?? '')}`).join(' and ') + ' cannot be in one rule; write two rules',
  },
  compileKey: { role: compileRole, apiKey: compileApiKey, apiVersion: compileApiVersion, topic: compileTopic },
  matches(rule, request) {
    for (const key of ['apiKey', 'apiVersion', 'clientID'] as const) {
      const constraint = rule[key];
      if (constraint === undefined) continue;
      const value = request[key];
      if (value === undefined || !constraintHolds(constraint, String(value))) return false;
    }
    const topic = rule['topic'];
    if (topic === undefined) return true;
    if (request['allTopics'] === 'true') return false;
    const requested = textOf(request['topic']);
    // A request that names no topic is not constrained by the rule's topic (Cilium's semantics).
    return requested === '' || constraintHolds(topic, requested);
  },
};

export const kafkaRules: L7ParserRules = declaredRules(DECLARATION, KAFKA_EXTENSION);

/** A role, in any case, is the set of API names its declared group lists, under the key it groups (apiKey). */
function compileRole(role: string, key: DeclaredRuleKey, _rule: Readonly<Record<string, string>>, report: RuleProblemSink): Compiled {
  const name = role.toLowerCase();
  const group = key.groups?.find((candidate) => candidate.name === name);
  const field = key.groupFields?.[0];
  if (group === undefined || field === undefined) {
    report(key.name, `unknown kafka role ${JSON.stringify(role)}; expected ${key.values.join(' or ')}`);
    return undefined;
  }
  return { key: field, constraint: { match: 'set', value: name, members: group.members[field] ?? [] } };
}

function compileApiKey(apiKey: string, key: DeclaredRuleKey, _rule: Readonly<Record<string, string>>, report: RuleProblemSink): Compiled {
  const number = apiKeyNumber(apiKey);
  if (number === undefined) {
    report(key.name, `unknown kafka apiKey ${JSON.stringify(apiKey)}; expected an API name such as produce, fetch or metadata, or its number (see ${DECLARATION.docs})`);
    return undefined;
  }
  return { key: key.name, constraint: { match: 'set', value: kafkaApiName(number), members: [kafkaApiName(number)] } };
}

function compileApiVersion(apiVersion: string, key: DeclaredRuleKey, _rule: Readonly<Record<string, string>>, report: RuleProblemSink): Compiled {
  if (!/^\d{1,5}$/.test(apiVersion) || Number(apiVersion) > MAX_API_VERSION) {
    report(key.name, `invalid kafka apiVersion ${JSON.stringify(apiVersion)}; expected a whole number 0..${MAX_API_VERSION}`);
    return undefined;
  }
  return { key: key.name, constraint: { match: 'exact', value: String(Number(apiVersion)) } };
}

function compileTopic(topic: string, key: DeclaredRuleKey, _rule: Readonly<Record<string, string>>, report: RuleProblemSink): Compiled {
  return validTopic(topic, report) ? { key: key.name, constraint: { match: 'exact', value: topic } } : undefined;
}

function apiKeyNumber(text: string): number | undefined {
  if (/^\d+$/.test(text)) {
    const key = Number(text);
    return KAFKA_API_KEYS.some((api) => api.key === key) ? key : undefined;
  }
  return NAME_TO_KEY.get(text.toLowerCase());
}

function validTopic(topic: string, report: RuleProblemSink): boolean {
  if (topic.length > MAX_TOPIC_LENGTH) {
    report('topic', `kafka topic exceeds the maximum length of ${MAX_TOPIC_LENGTH} characters`);
    return false;
  }
  if (!TOPIC_PATTERN.test(topic)) {
    report('topic', `invalid kafka topic ${JSON.stringify(topic)}; a topic name has only the characters a-z, A-Z, 0-9, '.', '_' and '-'`);
    return false;
  }
  return true;
}

export type { CompiledL7Rule };
