// memcache rule semantics on the server: meta commands inside the groups of what they do (so a
// meta client under `command: get` is allowed), the wire shape the filter reads, and keyless
// commands (stats, version, mn, ...) with key constraints.
import { describe, expect, it } from 'vitest';
import { memcacheRules } from '../../../server/policy/l7/memcache-rules.ts';
import type { CompiledL7Rule, L7Request } from '../../../server/policy/l7/l7-rule-types.ts';
import { CompiledFixture } from './compile-support.ts';
import { l7Policy, problemsOf } from './support.ts';

function compiled(rule: Record<string, string>): CompiledL7Rule {
  const problems: string[] = [];
  const result = memcacheRules.compileRule(rule, (key, message) => problems.push(`${key ?? ''}: ${message}`));
  if (result === undefined) throw new Error(problems.join('\n'));
  return result;
}

const allows = (rule: Record<string, string>, request: L7Request): boolean => memcacheRules.matches(compiled(rule), request);

describe('memcache meta commands map into the groups of what they do', () => {
  it.each([
    ['get', 'mg'], ['gets', 'mg'], ['gat', 'mg'], ['gats', 'mg'],
    ['set', 'ms'], ['storage', 'ms'], ['writeGroup', 'ms'],
    ['delete', 'md'], ['writeGroup', 'md'],
    ['incr', 'ma'], ['decr', 'ma'], ['storage', 'ma'], ['writeGroup', 'ma'],
  ])('command: %s allows %s on a matching key', (group, meta) => {
    expect(allows({ command: group, keyPrefix: 'alliance/fleet/' }, { command: meta, keys: ['alliance/fleet/x-wing'] })).toBe(true);
    expect(allows({ command: group, keyPrefix: 'alliance/fleet/' }, { command: meta, keys: ['alliance/plans'] })).toBe(false);
  });

  it.each([
    ['touch', 'mg'], ['add', 'ms'], ['replace', 'ms'], ['get', 'ms'], ['get', 'md'], ['get', 'ma'],
    ['set', 'md'], ['delete', 'mg'], ['get', 'mn'], ['get', 'me'], ['writeGroup', 'mg'],
  ])('command: %s does not allow %s', (group, meta) => {
    expect(allows({ command: group }, { command: meta, keys: ['k'] })).toBe(false);
  });

  it('mn and me are their own commands', () => {
    expect(allows({ command: 'mn' }, { command: 'mn', keys: [] })).toBe(true);
    expect(allows({ command: 'me', keyExact: 'k' }, { command: 'me', keys: ['k'] })).toBe(true);
    expect(allows({ command: 'me' }, { command: 'mg', keys: ['k'] })).toBe(false);
  });

  it('writes the expanded text commands and binary opcodes the filter reads', () => {
    expect(compiled({ command: 'get', keyExact: 'awing-coord' })).toEqual({
      command: { match: 'command', value: 'get', textCommands: ['get', 'gets', 'bget', 'mg'], binaryOpcodes: [0, 9, 12, 13] },
      keyExact: { match: 'exact', value: 'awing-coord' },
    });
    const writeGroup = compiled({ command: 'writeGroup' })['command'];
    expect(writeGroup?.match === 'command' && [...writeGroup.textCommands].sort()).toEqual(
      ['add', 'append', 'cas', 'decr', 'delete', 'incr', 'ma', 'md', 'prepend', 'replace', 'ms', 'set', 'touch'].sort(),
    );
  });

  it('secure-fleet style policy: an x-wing speaking meta may mg and ms its own key only', () => {
    const f = new CompiledFixture([l7Policy('memcache', '[{ command: get, keyExact: xwing-coord }, { command: set, keyExact: xwing-coord }]')], [
      { name: 'db', labels: { app: 'db' }, ips: ['127.0.0.10'] },
      { name: 'x-wing', labels: { app: 'x-wing' }, ips: ['127.0.0.12'] },
    ]);
    const ask = (l7Request: L7Request) => f.verdict('db', { direction: 'ingress', port: 11211, from: 'x-wing', l7Request });
    expect(ask({ command: 'mg', keys: ['xwing-coord'] })).toBe('allow');
    expect(ask({ command: 'ms', keys: ['xwing-coord'] })).toBe('allow');
    expect(ask({ command: 'mg', keys: ['awing-coord'] })).toBe('deny');
    expect(ask({ command: 'md', keys: ['xwing-coord'] })).toBe('deny');
  });
});

describe('memcache keyless commands and key constraints', () => {
  it.each(['stats', 'version', 'mn', 'flush_all', 'quit', 'verbosity', 'noop'])('rejects a key constraint on %s at import', (command) => {
    expect(problemsOf(l7Policy('memcache', `[{ command: ${command}, keyPrefix: alliance/ }]`))).toEqual([
      `policies/db.yaml: specs[0].ingress[0].toPorts[0].rules.l7[0].keyPrefix: command "${command}" takes no key, so keyPrefix could never hold; remove keyPrefix to allow ${command}, or name a command that takes keys`,
    ]);
  });

  it('allows a keyless command named without a key constraint', () => {
    expect(allows({ command: 'flush_all' }, { command: 'flush_all', keys: [] })).toBe(true);
    expect(allows({ command: 'stats' }, { opcode: 16 })).toBe(true);
  });

  it('a request without keys never satisfies a key constraint, as in the filter', () => {
    expect(allows({ command: 'get', keyPrefix: 'a' }, { command: 'get', keys: [] })).toBe(false);
    expect(allows({ command: 'get', keyPrefix: 'a' }, { command: 'get' })).toBe(false);
    expect(allows({ command: 'get', keyPrefix: 'a' }, { command: 'get', keys: ['ab'] })).toBe(true);
  });
});
