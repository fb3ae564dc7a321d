// memcached rule keys, as Cilium's proxylib defined them: `command` (a command or group, expanded
// below to text commands and binary opcodes), and at most one key constraint: `keyExact`,
// `keyPrefix` or `keyRegex` (unanchored search), which every key of a request must satisfy.
// Unlike Cilium, an unknown command is an error (Cilium silently allowed everything), two key
// constraints in one rule are an error (Cilium silently used the first by precedence), and so is
// a key constraint on a command that takes no key (Cilium let `flush_all` through any key rule).
import { constraintHolds, prefixConstraint, regexConstraint, textOf } from './constraint-matching.ts';
import type { CompiledL7Constraint, CompiledL7Rule, L7ParserRules, L7Request, RuleProblemSink } from './l7-rule-types.ts';

interface CommandGroup {
  readonly text: readonly string[];
  readonly binary: readonly number[];
  /** Every command of the group takes no key (stats, version, mn, ...): a key constraint could never hold. */
  readonly keyless?: true;
}

// Meta commands sit in the groups of what they can do. The filter matches a request by its
// command token, not its flags, so a group takes a meta command only when that adds no power
// the group lacks: `mg` reads (and with flags may touch or vivify, see docs/policy.md), so it is
// in get/gets/gat/gats but not in touch; `ms` in set; `md` in delete; `ma` in incr and decr.
const STORAGE_TEXT = ['add', 'set', 'replace', 'append', 'prepend', 'cas', 'incr', 'decr'] as const;
const STORAGE: CommandGroup = {
  text: [...STORAGE_TEXT, 'ms', 'ma'],
  // append (14) and prepend (15) with their quiet twins (25, 26): the filter matches a binary
  // request by its opcode's name, so a text name in a group needs its opcode here too
  binary: [1, 2, 3, 5, 6, 14, 15, 17, 18, 19, 21, 22, 25, 26],
};

/** Command names and groups accepted in `command`, with what each one allows. */
export const MEMCACHE_COMMANDS: Readonly<Record<string, CommandGroup>> = {
  get: { text: ['get', 'gets', 'bget', 'mg'], binary: [0, 9, 12, 13] },
  gets: { text: ['gets', 'mg'], binary: [] },
  set: { text: ['set', 'ms'], binary: [1, 17] },
  add: { text: ['add'], binary: [2, 18] },
  replace: { text: ['replace'], binary: [3, 19] },
  append: { text: ['append'], binary: [14, 25] },
  prepend: { text: ['prepend'], binary: [15, 26] },
  cas: { text: ['cas'], binary: [] },
  incr: { text: ['incr', 'ma'], binary: [5, 21] },
  decr: { text: ['decr', 'ma'], binary: [6, 22] },
  storage: STORAGE,
  delete: { text: ['delete', 'md'], binary: [4, 20] },
  touch: { text: ['touch'], binary: [28] },
  writeGroup: { text: [...STORAGE.text, 'delete', 'md', 'touch'], binary: [...STORAGE.binary, 4, 20, 28].sort((a, b) => a - b) },
  gat: { text: ['gat', 'gats', 'mg'], binary: [29, 30] },
  gats: { text: ['gats', 'mg'], binary: [] },
  stats: { text: ['stats'], binary: [16], keyless: true },
  flush_all: { text: ['flush_all'], binary: [8, 24], keyless: true },
  version: { text: ['version'], binary: [11], keyless: true },
  quit: { text: ['quit'], binary: [7, 23], keyless: true },
  verbosity: { text: ['verbosity'], binary: [27], keyless: true },
  noop: { text: [], binary: [10], keyless: true },
  slabs: { text: ['slabs'], binary: [], keyless: true },
  lru: { text: ['lru'], binary: [], keyless: true },
  lru_crawler: { text: ['lru_crawler'], binary: [], keyless: true },
  watch: { text: ['watch'], binary: [], keyless: true },
  cache_memlimit: { text: ['cache_memlimit'], binary: [], keyless: true },
  misbehave: { text: ['misbehave'], binary: [], keyless: true },
  'sasl-list-mechs': { text: [], binary: [32], keyless: true },
  'sasl-auth': { text: [], binary: [33] },
  'sasl-step': { text: [], binary: [34] },
  mg: { text: ['mg'], binary: [] },
  ms: { text: ['ms'], binary: [] },
  md: { text: ['md'], binary: [] },
  ma: { text: ['ma'], binary: [] },
  mn: { text: ['mn'], binary: [], keyless: true },
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
    if (keyField !== undefined && MEMCACHE_COMMANDS[command]?.keyless === true) {
      report(keyField, `command ${JSON.stringify(command)} takes no key, so ${keyField} could never hold; remove ${keyField} to allow ${command}, or name a command that takes keys`);
      return undefined;
    }
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
    // A request without keys (stats, version, mn, ...) never satisfies a key constraint, as in
    // the filter's matcher; import rejects key constraints on keyless commands, so no policy
    // written in YAML depends on this. Cilium let keyless requests pass vacuously.
    const keys = requestKeys(request);
    return keys.length > 0 && keys.every((key) => constraintHolds(keyConstraintOfRule, key));
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
