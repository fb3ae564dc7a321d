// memcached rule keys, as filters/parsers/memcache/rule-keys.ts declares them (Cilium's keys):
// `command` (a command or group, each a declared group of text commands and binary opcodes), and
// at most one key constraint: `keyExact`, `keyPrefix` or `keyRegex` (unanchored search), which
// every key of a request must satisfy. Unlike Cilium, an unknown command is an error (Cilium
// silently allowed everything), two key constraints in one rule are an error (Cilium silently used
// the first by precedence), and so is a key constraint on a command that takes no key (Cilium let
// `flush_all` through any key rule). The extension (declared-rules.ts DeclarationExtension) keeps
// what the declaration cannot say: a key constraint needs a command; a command reaches the filter
// as its text commands and numeric binary opcodes (both protocols share the rule); the problem
// texts; and the reference matcher, because a request carries a text command or an opcode and
// several keys, each of which must hold.
import { builtInDeclaration } from './built-in-declarations.ts';
import { constraintHolds, textOf } from './constraint-matching.ts';
import { declaredRules, type DeclarationExtension, type DeclaredRuleKey } from './declared-rules.ts';
import type { CompiledL7Constraint, CompiledL7Rule, L7ParserRules, L7Request } from './l7-rule-types.ts';

const DECLARATION = builtInDeclaration('memcache');
const KEY_CONSTRAINTS = ['keyExact', 'keyPrefix', 'keyRegex'] as const;

interface CommandGroup {
  readonly text: readonly string[];
  readonly binary: readonly number[];
  /** Every command of the group takes no key (stats, version, mn, ...): a key constraint could never hold. */
  readonly keyless?: true;
}

/** Command names and groups accepted in `command`, with what each one allows (from the declaration). */
export const MEMCACHE_COMMANDS: Readonly<Record<string, CommandGroup>> = Object.fromEntries(
  (DECLARATION.keys.find((key) => key.name === 'command')?.groups ?? []).map((group) => [
    group.name,
    { text: group.members['textCommands'] ?? [], binary: (group.members['binaryOpcodes'] ?? []).map(Number), ...(group.keyless === true ? { keyless: true as const } : {}) },
  ]),
);

const MEMCACHE_EXTENSION: DeclarationExtension = {
  checkRule(rule, report) {
    const keyField = KEY_CONSTRAINTS.find((key) => (rule[key] ?? '') !== '');
    if (keyField === undefined || (rule['command'] ?? '') !== '') return true;
    report(keyField, 'a key constraint needs a command (e.g. command: get)');
    return false;
  },
  compileKey: { command: compileCommand },
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

export const memcacheRules: L7ParserRules = declaredRules(DECLARATION, MEMCACHE_EXTENSION);

function compileCommand(command: string, _key: DeclaredRuleKey, rule: Readonly<Record<string, string>>, report: (key: string | undefined, message: string) => void): { key: string; constraint: CompiledL7Constraint } | undefined {
  const group = Object.hasOwn(MEMCACHE_COMMANDS, command) ? MEMCACHE_COMMANDS[command] : undefined;
  if (group === undefined) {
    report('command', `unknown memcached command ${JSON.stringify(command)}; see ${DECLARATION.docs} for the list`);
    return undefined;
  }
  const keyField = KEY_CONSTRAINTS.find((key) => (rule[key] ?? '') !== '');
  if (keyField !== undefined && group.keyless === true) {
    report(keyField, `command ${JSON.stringify(command)} takes no key, so ${keyField} could never hold; remove ${keyField} to allow ${command}, or name a command that takes keys`);
    return undefined;
  }
  return { key: 'command', constraint: { match: 'command', value: command, textCommands: group.text, binaryOpcodes: group.binary } };
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
