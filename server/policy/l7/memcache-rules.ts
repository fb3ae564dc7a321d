// memcached rule keys, as Cilium's proxylib defined them: `command` (a command or group, expanded
// below to text commands and binary opcodes), and at most one key constraint: `keyExact`,
// `keyPrefix` or `keyRegex` (unanchored search), which every key of a request must satisfy.
// Unlike Cilium, an unknown command is an error (Cilium silently allowed everything), and two key
// constraints in one rule are an error (Cilium silently used the first by precedence).
import { constraintHolds, prefixConstraint, regexConstraint, textOf } from './constraint-matching.ts';
import type { CompiledL7Constraint, CompiledL7Rule, L7ParserRules, L7Request, RuleProblemSink } from './l7-rule-types.ts';

interface CommandGroup {
  readonly text: readonly string[];
  readonly binary: readonly number[];
}

const STORAGE: CommandGroup = {
  text: ['add', 'set', 'replace', 'append', 'prepend', 'cas', 'incr', 'decr'],
  binary: [1, 2, 3, 5, 6, 17, 18, 19, 21, 22, 25, 26],
};

/** Command names and groups accepted in `command`, with what each one allows. */
export const MEMCACHE_COMMANDS: Readonly<Record<string, CommandGroup>> = {
  get: { text: ['get', 'gets'], binary: [0, 9, 12, 13] },
  gets: { text: ['gets'], binary: [] },
  set: { text: ['set'], binary: [1, 17] },
  add: { text: ['add'], binary: [2, 18] },
  replace: { text: ['replace'], binary: [3, 19] },
  append: { text: ['append'], binary: [14, 25] },
  prepend: { text: ['prepend'], binary: [15, 26] },
  cas: { text: ['cas'], binary: [] },
  incr: { text: ['incr'], binary: [5, 21] },
  decr: { text: ['decr'], binary: [6, 22] },
  storage: STORAGE,
  delete: { text: ['delete'], binary: [4, 20] },
  touch: { text: ['touch'], binary: [28] },
  writeGroup: { text: [...STORAGE.text, 'delete', 'touch'], binary: [...STORAGE.binary, 4, 20, 28].sort((a, b) => a - b) },
  gat: { text: ['gat', 'gats'], binary: [29, 30] },
  gats: { text: ['gats'], binary: [] },
  stats: { text: ['stats'], binary: [16] },
  flush_all: { text: ['flush_all'], binary: [8, 24] },
  version: { text: ['version'], binary: [11] },
  quit: { text: ['quit'], binary: [7, 23] },
  verbosity: { text: ['verbosity'], binary: [27] },
  noop: { text: [], binary: [10] },
  slabs: { text: ['slabs'], binary: [] },
  lru: { text: ['lru'], binary: [] },
  lru_crawler: { text: ['lru_crawler'], binary: [] },
  watch: { text: ['watch'], binary: [] },
  cache_memlimit: { text: ['cache_memlimit'], binary: [] },
  misbehave: { text: ['misbehave'], binary: [] },
  'sasl-list-mechs': { text: [], binary: [32] },
  'sasl-auth': { text: [], binary: [33] },
  'sasl-step': { text: [], binary: [34] },
  mg: { text: ['mg'], binary: [] },
  ms: { text: ['ms'], binary: [] },
  md: { text: ['md'], binary: [] },
  ma: { text: ['ma'], binary: [] },
  mn: { text: ['mn'], binary: [] },
  me: { text: ['me'], binary: [] },
};

const KEY_CONSTRAINTS = ['keyExact', 'keyPrefix', 'keyRegex'] as const;

export const memcacheRules: L7ParserRules = {
  l7proto: 'memcache',
  docsPath: 'docs/parsers/memcache.md',
  keys: ['command', ...KEY_CONSTRAINTS],
  compileRule(rule, report) {
    const compiled: Record<string, CompiledL7Constraint> = {};
    let valid = true;
    const command = rule['command'] ?? '';
    const keyFields = KEY_CONSTRAINTS.filter((key) => (rule[key] ?? '') !== '');
    if (command !== '') {
      const group = MEMCACHE_COMMANDS[command];
      if (group === undefined || !Object.hasOwn(MEMCACHE_COMMANDS, command)) {
        report('command', `unknown memcached command ${JSON.stringify(command)}; see docs/parsers/memcache.md for the list`);
        valid = false;
      } else {
        compiled['command'] = { match: 'command', value: command, textCommands: group.text, binaryOpcodes: group.binary };
      }
    } else if (keyFields.length > 0) {
      report(keyFields[0], 'a key constraint needs a command (e.g. command: get)');
      valid = false;
    }
    if (keyFields.length > 1) {
      report(keyFields[1], `only one of keyExact, keyPrefix, keyRegex per rule; this rule has ${keyFields.join(' and ')}`);
      return undefined;
    }
    const keyField = keyFields[0];
    if (keyField !== undefined) {
      const constraint = keyConstraint(keyField, rule[keyField] ?? '', report);
      if (constraint === undefined) valid = false;
      else compiled[keyField] = constraint;
    }
    return valid ? compiled : undefined;
  },
  matches(rule, request) {
    const command = rule['command'];
    if (command !== undefined && !commandAllowed(command, request)) return false;
    const keyConstraintOfRule = KEY_CONSTRAINTS.map((key) => rule[key]).find((c) => c !== undefined);
    if (keyConstraintOfRule === undefined) return true;
    return requestKeys(request).every((key) => constraintHolds(keyConstraintOfRule, key));
  },
};

function keyConstraint(field: string, value: string, report: RuleProblemSink): CompiledL7Constraint | undefined {
  if (field === 'keyExact') return { match: 'exact', value };
  if (field === 'keyPrefix') return prefixConstraint(field, value, report);
  return regexConstraint(field, value, report);
}

/** A request carries `command` (text protocol) or `opcode` (binary protocol). */
function commandAllowed(constraint: CompiledL7Constraint, request: L7Request): boolean {
  if (constraint.match !== 'command') return false;
  const opcode = request['opcode'];
  if (typeof opcode === 'number') return constraint.binaryOpcodes.includes(opcode);
  return constraint.textCommands.includes(textOf(request['command']));
}

function requestKeys(request: L7Request): readonly string[] {
  const keys = request['keys'];
  if (Array.isArray(keys)) return keys as readonly string[];
  return typeof keys === 'string' ? [keys] : [];
}

export type { CompiledL7Rule };
