// Kafka plugin configurations written the way the control server writes them: each Cilium-style
// rule map (`role`, `apiKey`, `apiVersion`, `clientID`, `topic`) compiled by the server's own
// kafka rules and serialized to the filter's rule shape. Test helper, shared by the host, Envoy
// and demo tests.
import { kafkaRules } from '../../../../server/policy/l7/kafka-rules.ts';
import { l7RuleJson } from '../../../../server/policy/serialize.ts';

export type KafkaRuleMap = Readonly<Record<string, string>>;

export function kafkaConfig(rules: readonly KafkaRuleMap[] | undefined, extra: Record<string, unknown> = {}): string {
  if (rules === undefined) return JSON.stringify({ parser: 'kafka', ...extra });
  const compiled = rules.map((rule) => {
    const problems: string[] = [];
    const result = kafkaRules.compileRule(rule, (key, message) => problems.push(`${key ?? ''}: ${message}`));
    if (result === undefined) throw new Error(`test helper: invalid kafka rule ${JSON.stringify(rule)}: ${problems.join('; ')}`);
    return l7RuleJson(result);
  });
  return JSON.stringify({ parser: 'kafka', rules: compiled, ...extra });
}

// The Star Wars rules of Cilium's Kafka guide, per client.
export const EMPIRE_HQ_RULES: readonly KafkaRuleMap[] = [
  { role: 'produce', topic: 'deathstar-plans' },
  { role: 'produce', topic: 'empire-announce' },
];
export const OUTPOST_RULES: readonly KafkaRuleMap[] = [{ role: 'consume', topic: 'empire-announce' }];
