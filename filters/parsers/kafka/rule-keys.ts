// Kafka's rule keys as a policy author writes them (Cilium's `rules.kafka`), declared for the
// build's kafka.rules.json: `role` (produce or consume: a group of API keys; not with `apiKey`),
// `apiKey` (an API name or number), `apiVersion`, `clientID` and `topic`, each exact. The filter
// itself matches the compiled keys of kafka-record.ts (role arrives as an apiKey set).
import { KeyMatch, RuleKeys } from '../../sdk/index';

// Cilium's role lists and what Weir adds for current clients (InitProducerId, KIP-320's
// OffsetForLeaderEpoch, KIP-848's ConsumerGroupHeartbeat, KIP-714's telemetry); API policy names.
const PRODUCE = 'produce metadata apiversions initproducerid gettelemetrysubscriptions pushtelemetry';
const CONSUME = 'fetch offsets metadata offsetcommit offsetfetch findcoordinator joingroup heartbeat leavegroup syncgroup apiversions offsetforleaderepoch consumergroupheartbeat gettelemetrysubscriptions pushtelemetry';

export const KAFKA_RULE_DECLARATION: RuleKeys = new RuleKeys('kafka', 'docs/parsers/kafka.md')
  .key('role', KeyMatch.Exact)
  .values('role', ['produce', 'consume'])
  .groupFields('apiKey')
  .group('produce', PRODUCE)
  .group('consume', CONSUME)
  .key('apiKey', KeyMatch.Exact)
  .key('apiVersion', KeyMatch.Exact)
  .key('clientID', KeyMatch.Exact)
  .key('topic', KeyMatch.Exact)
  .exclusive(['role', 'apiKey']);
