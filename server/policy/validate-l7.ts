// Validates `toPorts[].rules`: the `l7proto` + `l7` form is checked against the parser's declared
// rule keys (l7-rule-keys.ts) and compiled (regexes become DFAs here, at import); `http` (Cilium's
// PortRuleHTTP) is compiled by validate-http.ts into l7proto `http`; Cilium's `kafka: [...]` is the
// same as `l7proto: kafka` with those rules (numbers allowed for apiKey and apiVersion, as YAML
// writes them). `dns` rules are rejected by name: Weir never ignores a rule it cannot enforce. One
// protocol per port rule.
import type { L7RuleRegistry } from './l7-rule-keys.ts';
import { HTTP_L7PROTO } from './l7/http-rules.ts';
import type { CompiledL7Rule, L7ParserRules } from './l7/l7-rule-types.ts';
import type { L7RuleSet } from './policy-model.ts';
import { joinPath, type ProblemList } from './policy-problems.ts';
import { describeType, readList, readObject, readString } from './raw-fields.ts';
import { validateHttpRules } from './validate-http.ts';

const UNSUPPORTED_L7: Readonly<Record<string, string>> = {
  dns: 'dns rules are not supported yet; there is no Weir DNS proxy',
};

const KAFKA_L7PROTO = 'kafka';

export function validateL7Rules(value: unknown, path: string, problems: ProblemList, registry: L7RuleRegistry): L7RuleSet | undefined {
  const object = readObject(value, path, problems, 'a map with l7proto and l7');
  if (object === undefined) return undefined;
  const before = problems.count;
  // Go's JSON decoding matches field names case-insensitively, so old examples write `HTTP`.
  const httpField = Object.keys(object).find((field) => field.toLowerCase() === HTTP_L7PROTO);
  for (const field of Object.keys(object)) {
    const unsupported = UNSUPPORTED_L7[field.toLowerCase()];
    if (unsupported !== undefined) problems.add(joinPath(path, field), unsupported);
    else if (field !== 'l7proto' && field !== 'l7' && field !== httpField && field !== KAFKA_L7PROTO) problems.add(joinPath(path, field), 'unknown field; expected http, kafka, or l7proto and l7');
  }
  if (httpField !== undefined) {
    if (Object.hasOwn(object, 'l7proto') || Object.hasOwn(object, 'l7')) problems.add(path, `${httpField} and l7proto/l7 in one rule; one port rule carries one L7 protocol`);
    if (Object.hasOwn(object, KAFKA_L7PROTO)) problems.add(path, `${httpField} and kafka in one rule; one port rule carries one L7 protocol`);
    const rules = validateHttpRules(object[httpField], joinPath(path, httpField), problems);
    return problems.count === before && rules !== undefined ? { l7proto: HTTP_L7PROTO, rules } : undefined;
  }
  if (Object.hasOwn(object, KAFKA_L7PROTO)) {
    if (Object.hasOwn(object, 'l7proto') || Object.hasOwn(object, 'l7')) problems.add(joinPath(path, KAFKA_L7PROTO), 'kafka rules cannot be combined with l7proto/l7 in one rules map');
    const kafka = registry.get(KAFKA_L7PROTO);
    if (kafka === undefined) problems.add(joinPath(path, KAFKA_L7PROTO), `kafka rules need the kafka parser; Weir has parsers for ${[...registry.keys()].join(', ')}`);
    if (problems.count !== before) return undefined;
    return compileRuleList(KAFKA_L7PROTO, kafka, kafkaRuleMaps(object[KAFKA_L7PROTO]), joinPath(path, KAFKA_L7PROTO), problems);
  }
  if (!Object.hasOwn(object, 'l7proto') && !Object.hasOwn(object, 'l7')) {
    if (problems.count === before) problems.add(path, 'needs http, kafka, or l7proto and l7');
    return undefined;
  }
  const parserNames = [...registry.keys()].filter((name) => name !== HTTP_L7PROTO).join(', ');
  const l7proto = readString(object['l7proto'], joinPath(path, 'l7proto'), problems, `an L7 parser name (${parserNames})`);
  const parser = l7proto === undefined || l7proto === HTTP_L7PROTO ? undefined : registry.get(l7proto);
  if (l7proto === HTTP_L7PROTO) {
    problems.add(joinPath(path, 'l7proto'), 'HTTP rules are written as rules.http: [{method, path, host, headers, headerMatches}] (Cilium\'s PortRuleHTTP), not with l7proto: http');
  } else if (l7proto !== undefined && parser === undefined) {
    problems.add(joinPath(path, 'l7proto'), `unknown l7proto ${JSON.stringify(l7proto)}; Weir has parsers for ${parserNames}`);
  }
  if (l7proto === undefined || parser === undefined) {
    readList(object['l7'], joinPath(path, 'l7'), problems, 'a list of rule maps (use [{}] to allow every request)');
    return undefined;
  }
  return compileRuleList(l7proto, parser, object['l7'], joinPath(path, 'l7'), problems);
}

// Compiles one list of rule maps for `parser`.
function compileRuleList(l7proto: string, parser: L7ParserRules | undefined, value: unknown, listPath: string, problems: ProblemList): L7RuleSet | undefined {
  const before = problems.count;
  const entries = readList(value, listPath, problems, 'a list of rule maps (use [{}] to allow every request)');
  if (entries !== undefined && entries.length === 0) problems.add(listPath, 'an empty list allows nothing; use [{}] to allow every request, or remove the rules');
  if (parser === undefined || entries === undefined) return undefined;
  const rules: CompiledL7Rule[] = [];
  entries.forEach((entry, index) => {
    const rulePath = joinPath(listPath, index);
    const rule = readRuleMap(entry, rulePath, problems, parser.keys, l7proto);
    if (rule === undefined) return;
    const compiled = parser.compileRule(rule, (key, message) => problems.add(key === undefined ? rulePath : joinPath(rulePath, key), message));
    if (compiled !== undefined) rules.push(compiled);
  });
  return problems.count === before ? { l7proto, rules } : undefined;
}

// Cilium's kafka rules as YAML writes them: apiKey and apiVersion may be numbers.
function kafkaRuleMaps(value: unknown): unknown {
  if (!Array.isArray(value)) return value;
  return value.map((entry: unknown) => {
    if (entry === null || typeof entry !== 'object' || Array.isArray(entry)) return entry;
    const copy: Record<string, unknown> = { ...(entry as Record<string, unknown>) };
    for (const key of ['apiKey', 'apiVersion']) if (typeof copy[key] === 'number') copy[key] = String(copy[key]);
    return copy;
  });
}

/** One `l7` entry: a map of declared keys to strings (YAML null counts as ""). */
function readRuleMap(value: unknown, path: string, problems: ProblemList, keys: readonly string[], l7proto: string): Record<string, string> | undefined {
  const object = readObject(value, path, problems, `a map of ${l7proto} rule keys (${keys.join(', ')})`);
  if (object === undefined) return undefined;
  const rule: Record<string, string> = {};
  let valid = true;
  for (const [key, item] of Object.entries(object)) {
    if (!keys.includes(key)) {
      problems.add(joinPath(path, key), `unknown ${l7proto} rule key; ${l7proto} accepts ${keys.join(', ')}`);
      valid = false;
    } else if (item === null || typeof item === 'string') {
      rule[key] = item ?? '';
    } else {
      problems.add(joinPath(path, key), `expected a string, got ${describeType(item)}`);
      valid = false;
    }
  }
  return valid ? rule : undefined;
}
