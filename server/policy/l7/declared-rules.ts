// Rule keys a parser declares itself (filters/sdk/rule-keys.ts), read from the `<name>.rules.json`
// manifest the build writes beside its module: the server compiles CiliumNetworkPolicy `l7` maps
// for any parser in filters.dir from it, with no server change for a new protocol. A key is exact
// (optionally limited to named values), prefix, or regex (compiled to a DFA here, like every
// regex); a key may combine only with certain values of another key; an exact key may accept
// named groups of values (compiled to a set of their members); a rule may constrain at most one
// key of an exclusive list.
import { constraintHolds, prefixConstraint, regexConstraint, textOf } from './constraint-matching.ts';
import type { CompiledL7Constraint, CompiledL7Rule, L7ParserRules, L7Request, RuleProblemSink } from './l7-rule-types.ts';

export const RULE_KEYS_FORMAT = 'weir.rule-keys/v1';

export type DeclaredKeyMatch = 'exact' | 'prefix' | 'regex';

export interface DeclaredRuleKey {
  readonly name: string;
  readonly match: DeclaredKeyMatch;
  /** What one value is called in problems ("command"). */
  readonly noun: string;
  /** Exact keys: the only values a rule may name; empty allows any. */
  readonly values: readonly string[];
  /** The key may be constrained only when `key` is absent or one of `values`. */
  readonly onlyWith?: { readonly key: string; readonly values: readonly string[] };
  /** The access-log field the key fills. */
  readonly logField: string;
  /** Names a rule may give instead of a value, each standing for its members (under `groupFields`). */
  readonly groupFields?: readonly string[];
  readonly groups?: readonly DeclaredGroup[];
}

export interface DeclaredGroup {
  readonly name: string;
  readonly members: Readonly<Record<string, readonly string[]>>;
  /** Requests of the group carry no other key, so a rule may not constrain one with it. */
  readonly keyless?: true;
}

export interface RuleKeysDeclaration {
  readonly format: typeof RULE_KEYS_FORMAT;
  readonly protocol: string;
  readonly docs: string;
  readonly keys: readonly DeclaredRuleKey[];
  /** A rule may constrain at most one of these keys. */
  readonly exclusive?: readonly string[];
}

/** Checks the shape of a parsed manifest; throws with what is wrong, naming `source`. */
export function readRuleKeysDeclaration(value: unknown, source: string): RuleKeysDeclaration {
  const fail = (what: string): never => {
    throw new Error(`${source}: ${what}; rebuild the parser (npm run build:filters) so the build writes the manifest again`);
  };
  const object = asRecord(value) ?? fail('expected a JSON object');
  if (object['format'] !== RULE_KEYS_FORMAT) fail(`format must be ${JSON.stringify(RULE_KEYS_FORMAT)}, got ${JSON.stringify(object['format'])}`);
  const protocol = typeof object['protocol'] === 'string' && object['protocol'] !== '' ? object['protocol'] : fail('protocol must be a non-empty string');
  const docs = typeof object['docs'] === 'string' ? object['docs'] : fail('docs must be a string');
  if (!Array.isArray(object['keys'])) fail('keys must be a list');
  const keys = (object['keys'] as unknown[]).map((entry, index) => readKey(entry, `${source}: keys[${index}]`, fail));
  const names = keys.map((key) => key.name);
  for (const key of keys) {
    if (names.indexOf(key.name) !== names.lastIndexOf(key.name)) fail(`key ${JSON.stringify(key.name)} is declared twice`);
    if (key.onlyWith !== undefined && !names.includes(key.onlyWith.key)) fail(`key ${JSON.stringify(key.name)} combines with undeclared key ${JSON.stringify(key.onlyWith.key)}`);
  }
  let exclusive: readonly string[] | undefined;
  if (object['exclusive'] !== undefined) {
    const list = object['exclusive'];
    if (!Array.isArray(list) || !list.every((name) => typeof name === 'string' && names.includes(name))) fail('exclusive must be a list of declared key names');
    exclusive = list as string[];
  }
  return { format: RULE_KEYS_FORMAT, protocol, docs, keys, ...(exclusive === undefined ? {} : { exclusive }) };
}

function readKey(value: unknown, where: string, fail: (what: string) => never): DeclaredRuleKey {
  const object = asRecord(value) ?? fail(`${where} must be an object`);
  const name = typeof object['name'] === 'string' && object['name'] !== '' ? object['name'] : fail(`${where}.name must be a non-empty string`);
  const match = object['match'];
  if (match !== 'exact' && match !== 'prefix' && match !== 'regex') fail(`${where}.match must be exact, prefix or regex`);
  const strings = (field: unknown, path: string): readonly string[] =>
    Array.isArray(field) && field.every((item) => typeof item === 'string') ? (field as string[]) : fail(`${path} must be a list of strings`);
  const values = strings(object['values'] ?? [], `${where}.values`);
  if (values.length > 0 && match !== 'exact') fail(`${where}: only an exact key can list values`);
  let onlyWith: DeclaredRuleKey['onlyWith'];
  if (object['onlyWith'] !== undefined) {
    const combination = asRecord(object['onlyWith']) ?? fail(`${where}.onlyWith must be an object`);
    const key = typeof combination['key'] === 'string' ? combination['key'] : fail(`${where}.onlyWith.key must be a string`);
    onlyWith = { key, values: strings(combination['values'], `${where}.onlyWith.values`) };
  }
  const noun = typeof object['noun'] === 'string' && object['noun'] !== '' ? object['noun'] : name;
  const logField = typeof object['logField'] === 'string' && object['logField'] !== '' ? object['logField'] : name;
  if (object['groups'] === undefined) return { name, match: match as DeclaredKeyMatch, noun, values, ...(onlyWith === undefined ? {} : { onlyWith }), logField };
  if (match !== 'exact') fail(`${where}: only an exact key can have groups`);
  const groupFields = strings(object['groupFields'], `${where}.groupFields`);
  if (!Array.isArray(object['groups'])) fail(`${where}.groups must be a list`);
  const groups = (object['groups'] as unknown[]).map((entry, index): DeclaredGroup => {
    const at = `${where}.groups[${index}]`;
    const group = asRecord(entry) ?? fail(`${at} must be an object`);
    const groupName = typeof group['name'] === 'string' && group['name'] !== '' ? group['name'] : fail(`${at}.name must be a non-empty string`);
    const members = asRecord(group['members']) ?? fail(`${at}.members must be an object`);
    const lists = Object.fromEntries(groupFields.map((field) => [field, strings(members[field] ?? [], `${at}.members.${field}`)]));
    return { name: groupName, members: lists, ...(group['keyless'] === true ? { keyless: true as const } : {}) };
  });
  return { name, match: 'exact', noun, values, ...(onlyWith === undefined ? {} : { onlyWith }), logField, groupFields, groups };
}

function asRecord(value: unknown): Record<string, unknown> | undefined {
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
}

/**
 * What a built-in protocol's declaration cannot say, kept as named code beside the declaration
 * (memcache-rules.ts, cassandra-rules.ts, kafka-rules.ts). Every protocol compiles through
 * declaredRules(); a hook replaces one generic step, never the whole compiler:
 * - `problems`: the protocol's own problem texts, which its users' tools and the docs quote;
 * - `checkRule`: a rule-wide condition the format has no word for (memcached: a key constraint
 *   needs a command);
 * - `compileKey`: a key whose values the declaration cannot spell or check (Kafka: API names and
 *   numbers in any case, a version range, the topic alphabet) or whose group reaches the filter in
 *   another shape (memcached: text commands and binary opcodes; Kafka: a role is an apiKey set);
 *   it reads the key's groups and values from the declaration;
 * - `matches`: the reference matcher, where a decoded request is not "one value per constrained
 *   key" (memcached's keys, Cassandra's non-queries, Kafka's topics).
 */
export interface DeclarationExtension {
  readonly problems?: {
    /** A value the key does not accept (`key.values`, or neither a value nor a group). */
    readonly unknownValue?: (key: DeclaredRuleKey, value: string) => string;
    /** `key` constrained while `onlyWith.key` has `other`, a value it does not combine with. */
    readonly onlyWith?: (key: DeclaredRuleKey, other: string) => string;
    /** Two keys of `exclusive` in one rule: `present` in declaration order. */
    readonly exclusive?: (rule: Readonly<Record<string, string>>, present: readonly string[]) => string;
  };
  readonly checkRule?: (rule: Readonly<Record<string, string>>, report: RuleProblemSink) => boolean;
  readonly compileKey?: Readonly<Record<string, KeyCompiler>>;
  readonly matches?: (rule: CompiledL7Rule, request: L7Request) => boolean;
}

/** Compiles one key's value; returns the key of the compiled rule it constrains (its own, or another) and the constraint, or undefined after reporting. */
export type KeyCompiler = (value: string, key: DeclaredRuleKey, rule: Readonly<Record<string, string>>, report: RuleProblemSink) => { readonly key: string; readonly constraint: CompiledL7Constraint } | undefined;

/** The server's rules for a declared protocol: compile and reference matching from the declaration, with `extension`'s hooks. */
export function declaredRules(declaration: RuleKeysDeclaration, extension: DeclarationExtension = {}): L7ParserRules {
  const { protocol, keys } = declaration;
  return {
    l7proto: protocol,
    docsPath: declaration.docs,
    keys: keys.map((key) => key.name),
    compileRule(rule, report) {
      const compiled: Record<string, CompiledL7Constraint> = {};
      let valid = true;
      const exclusive = (declaration.exclusive ?? []).filter((name) => (rule[name] ?? '') !== '');
      if (exclusive.length > 1) {
        const message = extension.problems?.exclusive?.(rule, exclusive) ?? `only one of ${(declaration.exclusive ?? []).join(', ')} per rule; this rule has ${exclusive.join(' and ')}`;
        report(exclusive[1], message);
        return undefined;
      }
      if (extension.checkRule !== undefined && !extension.checkRule(rule, report)) valid = false;
      for (const key of keys) {
        const value = rule[key.name] ?? '';
        if (value === '') continue;
        const compiler = extension.compileKey?.[key.name];
        const result = compiler !== undefined ? compiler(value, key, rule, report) : compileKey(declaration, key, value, rule, report, extension);
        if (result === undefined) valid = false;
        else compiled[result.key] = result.constraint;
      }
      return valid ? compiled : undefined;
    },
    matches(rule: CompiledL7Rule, request) {
      if (extension.matches !== undefined) return extension.matches(rule, request);
      return keys.every((key) => {
        const constraint = rule[key.name];
        return constraint === undefined || constraintHolds(constraint, textOf(request[key.name]));
      });
    },
  };
}

function compileKey(
  declaration: RuleKeysDeclaration,
  key: DeclaredRuleKey,
  value: string,
  rule: Readonly<Record<string, string>>,
  report: RuleProblemSink,
  extension: DeclarationExtension,
): { key: string; constraint: CompiledL7Constraint } | undefined {
  const group = key.groups?.find((candidate) => candidate.name === value);
  if (group !== undefined) {
    const other = Object.keys(rule).find((name) => name !== key.name && (rule[name] ?? '') !== '');
    if (group.keyless === true && other !== undefined) {
      report(other, `${key.name} ${JSON.stringify(value)} takes no ${other}, so it could never hold; remove ${other}, or name a ${key.noun} that takes one`);
      return undefined;
    }
    return { key: key.name, constraint: { match: 'set', value, members: [...new Set(Object.values(group.members).flat())] } };
  }
  if (key.values.length > 0 && !key.values.includes(value)) {
    report(key.name, extension.problems?.unknownValue?.(key, value) ?? `unknown ${declaration.protocol} ${key.noun} ${JSON.stringify(value)}; expected one of ${key.values.join(', ')} (case-sensitive)`);
    return undefined;
  }
  const combination = key.onlyWith;
  const other = combination === undefined ? '' : (rule[combination.key] ?? '');
  if (combination !== undefined && other !== '' && !combination.values.includes(other) && acceptsValue(declaration, combination.key, other)) {
    report(key.name, extension.problems?.onlyWith?.(key, other) ?? `a ${key.name} constraint needs ${combination.key} ${combination.values.join(', ')} or no ${combination.key}; ${other} takes no ${key.name}`);
    return undefined;
  }
  if (key.match === 'regex') return withKey(key.name, regexConstraint(key.name, value, report));
  if (key.match === 'prefix') return withKey(key.name, prefixConstraint(key.name, value, report));
  return { key: key.name, constraint: { match: 'exact', value } };
}

/** False when `name`'s declaration refuses `value` (reported on that key already). */
function acceptsValue(declaration: RuleKeysDeclaration, name: string, value: string): boolean {
  const key = declaration.keys.find((candidate) => candidate.name === name);
  if (key === undefined || key.values.length === 0) return true;
  return key.values.includes(value) || (key.groups ?? []).some((group) => group.name === value);
}

function withKey(key: string, constraint: CompiledL7Constraint | undefined): { key: string; constraint: CompiledL7Constraint } | undefined {
  return constraint === undefined ? undefined : { key, constraint };
}
