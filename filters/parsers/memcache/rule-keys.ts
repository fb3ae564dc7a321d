// memcached's rule keys, the one declaration of them (the build writes it to memcache.rules.json):
// `command`, a command or a group of commands (the groups below; the control server sends a
// group's expansion as {"exact": "<group>", "textCommands": [...], "binaryOpcodes": [...]}), and
// at most one key constraint, `keyExact`, `keyPrefix` or `keyRegex` (a DFA table), which every key
// of the request must satisfy. All three log the request's keys as `keys`.
import { ConstraintKind, KeyMatch, Rule, RuleKeys } from '../../sdk/index';
import { TEXT_COMMANDS, opcodeName, opcodeNamed } from './commands';

export const enum MemcacheKey {
  Command = 0,
  KeyExact = 1,
  KeyPrefix = 2,
  KeyRegex = 3,
}

// The groups a rule's `command` may name, as text commands and binary opcodes (the control server
// compiles policies from them: server/policy/l7/declarations/memcache.rules.json). Meta commands sit
// in the groups of what they can do: `mg` in get/gets/gat/gats, `ms` in set, `md` in delete, `ma`
// in incr and decr. A group whose every command takes no key is keyless.
const STORAGE_TEXT = 'add set replace append prepend cas incr decr ms ma';
const STORAGE_OPCODES = '1 2 3 5 6 14 15 17 18 19 21 22 25 26';

export class MemcacheRuleKeys extends RuleKeys {
  constructor() {
    super('memcache', 'docs/parsers/memcache.md');
    this.key('command', KeyMatch.Exact)
      .groupFields('textCommands', 'binaryOpcodes')
      .group('get', 'get gets bget mg', '0 9 12 13')
      .group('gets', 'gets mg', '')
      .group('set', 'set ms', '1 17')
      .group('add', 'add', '2 18')
      .group('replace', 'replace', '3 19')
      .group('append', 'append', '14 25')
      .group('prepend', 'prepend', '15 26')
      .group('cas', 'cas', '')
      .group('incr', 'incr ma', '5 21')
      .group('decr', 'decr ma', '6 22')
      .group('storage', STORAGE_TEXT, STORAGE_OPCODES)
      .group('delete', 'delete md', '4 20')
      .group('touch', 'touch', '28')
      .group('writeGroup', STORAGE_TEXT + ' delete md touch', '1 2 3 4 5 6 14 15 17 18 19 20 21 22 25 26 28')
      .group('gat', 'gat gats mg', '29 30')
      .group('gats', 'gats mg', '')
      .keylessGroup('stats', 'stats', '16')
      .keylessGroup('flush_all', 'flush_all', '8 24')
      .keylessGroup('version', 'version', '11')
      .keylessGroup('quit', 'quit', '7 23')
      .keylessGroup('verbosity', 'verbosity', '27')
      .keylessGroup('noop', '', '10')
      .keylessGroup('slabs', 'slabs', '')
      .keylessGroup('lru', 'lru', '')
      .keylessGroup('lru_crawler', 'lru_crawler', '')
      .keylessGroup('watch', 'watch', '')
      .keylessGroup('cache_memlimit', 'cache_memlimit', '')
      .keylessGroup('misbehave', 'misbehave', '')
      .keylessGroup('sasl-list-mechs', '', '32')
      .group('sasl-auth', '', '33')
      .group('sasl-step', '', '34')
      .group('mg', 'mg', '')
      .group('ms', 'ms', '')
      .group('md', 'md', '')
      .group('ma', 'ma', '')
      .keylessGroup('mn', 'mn', '')
      .group('me', 'me', '')
      .key('keyExact', KeyMatch.Exact)
      .logAs('keys')
      .key('keyPrefix', KeyMatch.Prefix)
      .logAs('keys')
      .key('keyRegex', KeyMatch.Regex)
      .logAs('keys')
      .exclusive(['keyExact', 'keyPrefix', 'keyRegex']);
  }

  validateRule(rule: Rule): string | null {
    const command = rule.constraintOn(MemcacheKey.Command);
    const keyConstraints = this.keyConstraintCount(rule);
    if (keyConstraints > 1) return 'only one of keyExact, keyPrefix, keyRegex per rule';
    if (command === null) return keyConstraints > 0 ? 'a key constraint needs a command (e.g. "command": "get")' : null;
    if (command.kind == ConstraintKind.Exact && !isKnownCommand(command.exactText())) {
      return 'unknown memcached command "' + command.exactText() + '"; see docs/parsers/memcache.md for the list';
    }
    if (command.kind != ConstraintKind.Exact && command.kind != ConstraintKind.Set) return 'command must be a command name or a set of them';
    const prefix = rule.constraintOn(MemcacheKey.KeyPrefix);
    if (prefix !== null && prefix.kind == ConstraintKind.Exact) prefix.kind = ConstraintKind.Prefix; // "keyPrefix": "a/"
    const regex = rule.constraintOn(MemcacheKey.KeyRegex);
    if (regex !== null && regex.kind != ConstraintKind.Regex) return 'keyRegex needs a DFA table ({"regex": "...", "dfa": {...}}), compiled by the control server';
    return null;
  }

  // The control server writes a group as {"exact": "<group>", "textCommands": [...],
  // "binaryOpcodes": [...]}: its expansion, in both protocols.
  setFields(key: i32): Array<string> {
    return key == MemcacheKey.Command ? COMMAND_SET_FIELDS : NO_FIELDS;
  }

  setMember(key: i32, field: string, element: string): string | null {
    if (field == 'binaryOpcodes') {
      const name = opcodeName(I32.parseInt(element));
      return name.length > 0 ? name : null;
    }
    return isKnownCommand(element) ? element : null;
  }

  private keyConstraintCount(rule: Rule): i32 {
    let count = 0;
    for (let key = MemcacheKey.KeyExact; key <= MemcacheKey.KeyRegex; key++) if (rule.constraintOn(key) !== null) count++;
    return count;
  }
}

const COMMAND_SET_FIELDS: Array<string> = ['textCommands', 'binaryOpcodes'];
const NO_FIELDS: Array<string> = [];

function isKnownCommand(name: string): bool {
  return TEXT_COMMANDS.includes(name) || opcodeNamed(name) >= 0;
}

export const MEMCACHE_RULE_KEYS: MemcacheRuleKeys = new MemcacheRuleKeys();
