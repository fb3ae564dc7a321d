// The registry of L7 parsers the control server knows: for each `l7proto`, the rule keys it
// declares, how a rule is checked and compiled, and the reference matcher. Validation looks
// parsers up here, so an unknown l7proto or key is an import error. Callers may pass their own
// registry (tests, plugins); defaultL7RuleRegistry() holds the built-in parsers.
import { cassandraRules } from './l7/cassandra-rules.ts';
import { kafkaRules } from './l7/kafka-rules.ts';
import { httpRules } from './l7/http-rules.ts';
import type { L7ParserRules } from './l7/l7-rule-types.ts';
import { memcacheRules } from './l7/memcache-rules.ts';
import { r2d2Rules } from './l7/r2d2-rules.ts';

export type { CompiledL7Constraint, CompiledL7Rule, L7ParserRules, L7Request, L7RequestValue } from './l7/l7-rule-types.ts';

export type L7RuleRegistry = ReadonlyMap<string, L7ParserRules>;

export function defaultL7RuleRegistry(): L7RuleRegistry {
  return createL7RuleRegistry([r2d2Rules, memcacheRules, cassandraRules, kafkaRules, httpRules]);
}

export function createL7RuleRegistry(parsers: readonly L7ParserRules[]): L7RuleRegistry {
  return new Map(parsers.map((parser) => [parser.l7proto, parser]));
}
