// Rule keys a parser declares (the build's <name>.rules.json): the generic compiler honours named
// groups (a set of their members), keyless groups and exclusive keys, so a parser from `weir
// parser new` can declare memcache-style commands with no server change.
import { describe, expect, it } from 'vitest';
import { declaredRules, readRuleKeysDeclaration } from '../../../server/policy/l7/declared-rules.ts';

const MANIFEST = {
  format: 'weir.rule-keys/v1',
  protocol: 'kvcache',
  docs: 'docs/parsers/kvcache.md',
  keys: [
    {
      name: 'command',
      match: 'exact',
      noun: 'command',
      values: [],
      logField: 'command',
      groupFields: ['textCommands', 'binaryOpcodes'],
      groups: [
        { name: 'writes', members: { textCommands: ['set', 'delete'], binaryOpcodes: ['setq'] } },
        { name: 'stats', members: { textCommands: ['stats'], binaryOpcodes: [] }, keyless: true },
      ],
    },
    { name: 'keyExact', match: 'exact', noun: 'key', values: [], logField: 'keys' },
    { name: 'keyPrefix', match: 'prefix', noun: 'key', values: [], logField: 'keys' },
  ],
  exclusive: ['keyExact', 'keyPrefix'],
};

function compile(rule: Record<string, string>): { compiled: unknown; problems: string[] } {
  const problems: string[] = [];
  const rules = declaredRules(readRuleKeysDeclaration(MANIFEST, 'kvcache.rules.json'));
  const compiled = rules.compileRule(rule, (key, message) => problems.push(`${key ?? ''}: ${message}`));
  return { compiled, problems };
}

describe('declared rule keys with groups and exclusive keys', () => {
  it('compiles a group name to the set of its members, and a plain name exactly', () => {
    expect(compile({ command: 'writes', keyExact: 'a' })).toEqual({ compiled: { command: { match: 'set', value: 'writes', members: ['set', 'delete', 'setq'] }, keyExact: { match: 'exact', value: 'a' } }, problems: [] });
    expect(compile({ command: 'get' }).compiled).toEqual({ command: { match: 'exact', value: 'get' } });
  });

  it('refuses two exclusive keys in one rule, and a key with a keyless group', () => {
    expect(compile({ command: 'writes', keyExact: 'a', keyPrefix: 'b' })).toEqual({ compiled: undefined, problems: ['keyPrefix: only one of keyExact, keyPrefix per rule; this rule has keyExact and keyPrefix'] });
    expect(compile({ command: 'stats', keyExact: 'a' }).problems).toEqual(['keyExact: command "stats" takes no keyExact, so it could never hold; remove keyExact, or name a command that takes one']);
  });

  it('a request matches a group by any member', () => {
    const rules = declaredRules(readRuleKeysDeclaration(MANIFEST, 'kvcache.rules.json'));
    const compiled = rules.compileRule({ command: 'writes' }, () => undefined);
    if (compiled === undefined) throw new Error('the rule did not compile');
    expect(rules.matches(compiled, { command: 'setq' })).toBe(true);
    expect(rules.matches(compiled, { command: 'get' })).toBe(false);
  });
});
