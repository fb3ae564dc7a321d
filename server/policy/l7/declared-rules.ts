// Rule keys a parser declares itself (filters/sdk/rule-keys.ts), read from the `<name>.rules.json`
// manifest the build writes beside its module: the server compiles CiliumNetworkPolicy `l7` maps
// for any parser in filters.dir from it, with no server change for a new protocol. A key is exact
// (optionally limited to named values), prefix, or regex (compiled to a DFA here, like every
// regex); a key may combine only with certain values of another key; an exact key may accept
// named groups of values (compiled to a set of their members); a rule may constrain at most one
// key of an exclusive list.
import { constraintHolds, prefixConstraint, regexConstraint, textOf } from './constraint-matching.ts';
import type { CompiledL7Constraint, CompiledL7Rule, L7ParserRules } from './l7-rule-types.ts';

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

/** The server's rules for a declared protocol: compile and reference matching from the declaration alone. */
export function declaredRules(declaration: RuleKeysDeclaration): L7ParserRules {
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
        report(exclusive[1], `only one of ${(declaration.exclusive ?? []).join(', ')} per rule; this rule has ${exclusive.join(' and ')}`);
        return undefined;
      }
      for (const key of keys) {
        const value = rule[key.name] ?? '';
        if (value === '') continue;
        const constraint = compileKey(protocol, key, value, rule, report);
        if (constraint === undefined) valid = false;
        else compiled[key.name] = constraint;
      }
      return valid ? compiled : undefined;
    },
    matches(rule: CompiledL7Rule, request) {
      return keys.every((key) => {
        const constraint = rule[key.name];
        return constraint === undefined || constraintHolds(constraint, textOf(request[key.name]));
      });
    },
  };
}

function compileKey(protocol: string, key: DeclaredRuleKey, value: string, rule: Readonly<Record<string, string>>, report: (key: string | undefined, message: string) => void): CompiledL7Constraint | undefined {
  const group = key.groups?.find((candidate) => candidate.name === value);
  if (group !== undefined) {
    const other = Object.keys(rule).find((name) => name !== key.name && (rule[name] ?? '') !== '');
    if (group.keyless === true && other !== undefined) {
      report(other, `${key.name} ${JSON.stringify(value)} takes no ${other}, so it could never hold; remove ${other}, or name a ${key.noun} that takes one`);
      return undefined;
    }
    return { match: 'set', value, members: [...new Set(Object.values(group.members).flat())] };
  }
  if (key.values.length > 0 && !key.values.includes(value)) {
    report(key.name, `unknown ${protocol} ${key.noun} ${JSON.stringify(value)}; expected one of ${key.values.join(', ')} (case-sensitive)`);
    return undefined;
  }
  const other = key.onlyWith === undefined ? '' : (rule[key.onlyWith.key] ?? '');
  if (key.onlyWith !== undefined && other !== '' && !key.onlyWith.values.includes(other)) {
    report(key.name, `a ${key.name} constraint needs ${key.onlyWith.key} ${key.onlyWith.values.join(', ')} or no ${key.onlyWith.key}; ${other} takes no ${key.name}`);
    return undefined;
  }
  if (key.match === 'regex') return regexConstraint(key.name, value, report);
  if (key.match === 'prefix') return prefixConstraint(key.name, value, report);
  return { match: 'exact', value };
}
