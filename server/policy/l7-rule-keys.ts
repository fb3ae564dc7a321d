// The registry of L7 parsers the control server knows: for each `l7proto`, the rule keys it
// declares, how a rule is checked and compiled, and the reference matcher. Validation looks
// parsers up here, so an unknown l7proto or key is an import error. Callers may pass their own
// registry (tests, plugins); defaultL7RuleRegistry() holds the built-in parsers,
// registryWithDeclaredParsers() adds the parsers of a filters directory that declare their keys.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { declaredRules, readRuleKeysDeclaration } from './l7/declared-rules.ts';
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

/** The manifest the build writes beside `<name>.wasm` (filters/sdk/rule-keys.ts). */
export const RULE_KEYS_MANIFEST_SUFFIX = '.rules.json';

/**
 * The built-in parsers plus every parser in `filtersDir` that declares its rule keys in a
 * `<name>.rules.json` manifest (a parser from `weir parser new`, built with the others). A built-in
 * name keeps its built-in rules. Throws, naming the file, when a manifest is unreadable or names
 * a protocol other than its module.
 */
export function registryWithDeclaredParsers(filtersDir: string, builtIn: L7RuleRegistry = defaultL7RuleRegistry()): L7RuleRegistry {
  const parsers = [...builtIn.values()];
  let files: string[];
  try {
    files = readdirSync(filtersDir).filter((file) => file.endsWith(RULE_KEYS_MANIFEST_SUFFIX)).sort();
  } catch {
    return builtIn; // no filters directory: the server config check reports it
  }
  for (const file of files) {
    const module = file.slice(0, -RULE_KEYS_MANIFEST_SUFFIX.length);
    if (builtIn.has(module) || !existsSync(path.join(filtersDir, `${module}.wasm`))) continue;
    const source = path.join(filtersDir, file);
    let parsed: unknown;
    try {
      parsed = JSON.parse(readFileSync(source, 'utf8'));
    } catch (error) {
      throw new Error(`${source}: cannot read the rule-key manifest (${error instanceof Error ? error.message : String(error)}); rebuild the parser (npm run build:filters)`);
    }
    const declaration = readRuleKeysDeclaration(parsed, source);
    if (declaration.protocol !== module) throw new Error(`${source}: declares protocol ${JSON.stringify(declaration.protocol)} but belongs to module ${module}.wasm; the factory's protocol must be the module name`);
    parsers.push(declaredRules(declaration));
  }
  return createL7RuleRegistry(parsers);
}
