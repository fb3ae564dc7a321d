// Kafka rule keys, as Cilium's `rules.kafka` (pkg/policy/api/kafka) defines them: `role`
// (produce or consume, expanded to the API keys each needs), `apiKey` (an API name or number; not
// with `role`), `apiVersion` (a decimal 0..32767), `clientID` (exact) and `topic` (exact, up to 255
// characters of [a-zA-Z0-9._-]). Role and apiKey compile to one `apiKey` set of API names, which is
// what the filter matches. A request is allowed when each topic it names is allowed by some rule
// (the filter decides per topic); a rule's topic does not constrain requests of API keys that
// name no topic (JoinGroup, Heartbeat, ...); a request for every topic (Metadata with a null
// list) needs a rule without a topic. Role and apiKey names are case-insensitive, as in Cilium.
import type { CompiledL7Constraint, CompiledL7Rule, L7ParserRules, RuleProblemSink } from './l7-rule-types.ts';
import { KAFKA_API_KEYS } from './kafka-api-keys.ts';
import { constraintHolds, textOf } from './constraint-matching.ts';

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

// Cilium's role lists (pkg/policy/api/kafka GetAPIKeys), then what Weir adds for current clients.
const CILIUM_PRODUCE = [0, 3, 18]; // Produce, Metadata, ApiVersions
const CILIUM_CONSUME = [1, 2, 3, 8, 9, 10, 11, 12, 13, 14, 18]; // Fetch, ListOffsets, Metadata, OffsetCommit, OffsetFetch, FindCoordinator, JoinGroup, Heartbeat, LeaveGroup, SyncGroup, ApiVersions
/** Client telemetry (KIP-714): Java clients from 3.7 ask for a subscription and push metrics by default. */
const TELEMETRY = [71, 72]; // GetTelemetrySubscriptions, PushTelemetry
export const KAFKA_ROLES: Readonly<Record<string, readonly number[]>> = {
  // InitProducerId: every producer is idempotent by default since Kafka 3.0 and asks for a producer id first.
  produce: [...CILIUM_PRODUCE, 22, ...TELEMETRY],
  // OffsetForLeaderEpoch: consumers validate their position after a leader change (KIP-320);
  // ConsumerGroupHeartbeat: the consumer group protocol of KIP-848 (group.protocol=consumer).
  consume: [...CILIUM_CONSUME, 23, 68, ...TELEMETRY],
};

const TOPIC_PATTERN = /^[a-zA-Z0-9._-]+$/;
const MAX_TOPIC_LENGTH = 255;
const MAX_API_VERSION = 32767;

export const kafkaRules: L7ParserRules = {
  l7proto: 'kafka',
  docsPath: 'docs/parsers/kafka.md',
  keys: ['role', 'apiKey', 'apiVersion', 'clientID', 'topic'],
  compileRule(rule, report) {
    const compiled: Record<string, CompiledL7Constraint> = {};
    let valid = true;
    const role = rule['role'] ?? '';
    const apiKey = rule['apiKey'] ?? '';
    if (role !== '' && apiKey !== '') {
      report('apiKey', `role ${JSON.stringify(role)} and apiKey ${JSON.stringify(apiKey)} cannot be in one rule; write two rules`);
      valid = false;
    } else if (role !== '') {
      const keys = KAFKA_ROLES[role.toLowerCase()];
      if (keys === undefined || !Object.hasOwn(KAFKA_ROLES, role.toLowerCase())) {
        report('role', `unknown kafka role ${JSON.stringify(role)}; expected produce or consume`);
        valid = false;
      } else compiled['apiKey'] = { match: 'set', value: role.toLowerCase(), members: keys.map(kafkaApiName) };
    } else if (apiKey !== '') {
      const key = apiKeyNumber(apiKey);
      if (key === undefined) {
        report('apiKey', `unknown kafka apiKey ${JSON.stringify(apiKey)}; expected an API name such as produce, fetch or metadata, or its number (see docs/parsers/kafka.md)`);
        valid = false;
      } else compiled['apiKey'] = { match: 'set', value: kafkaApiName(key), members: [kafkaApiName(key)] };
    }
    const apiVersion = rule['apiVersion'] ?? '';
    if (apiVersion !== '') {
      if (!/^\d{1,5}$/.test(apiVersion) || Number(apiVersion) > MAX_API_VERSION) {
        report('apiVersion', `invalid kafka apiVersion ${JSON.stringify(apiVersion)}; expected a whole number 0..${MAX_API_VERSION}`);
        valid = false;
      } else compiled['apiVersion'] = { match: 'exact', value: String(Number(apiVersion)) };
    }
    const clientID = rule['clientID'] ?? '';
    if (clientID !== '') compiled['clientID'] = { match: 'exact', value: clientID };
    const topic = rule['topic'] ?? '';
    if (topic !== '') {
      if (!validTopic(topic, report)) valid = false;
      else compiled['topic'] = { match: 'exact', value: topic };
    }
    return valid ? compiled : undefined;
  },
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
