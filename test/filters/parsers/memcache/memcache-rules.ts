// Builds memcache plugin configurations the way the control server writes them: `command` as
// {"exact": group, "textCommands": [...], "binaryOpcodes": [...]} from the server's own group
// table, key prefixes as {"prefix": ...}. Test helper, shared by the host and Envoy tests.
import { MEMCACHE_COMMANDS } from '../../../../server/policy/l7/memcache-rules.ts';

export type MemcacheRule = Record<string, unknown>;

export function command(group: string): MemcacheRule {
  const expansion = MEMCACHE_COMMANDS[group];
  if (expansion === undefined) throw new Error(`test helper: unknown memcached command group "${group}"`);
  return { exact: group, textCommands: [...expansion.text], binaryOpcodes: [...expansion.binary] };
}

export function rule(group: string, keys: { keyExact?: string; keyPrefix?: string } = {}): MemcacheRule {
  const compiled: MemcacheRule = { command: command(group) };
  if (keys.keyExact !== undefined) compiled['keyExact'] = keys.keyExact;
  if (keys.keyPrefix !== undefined) compiled['keyPrefix'] = { prefix: keys.keyPrefix };
  return compiled;
}

export function memcacheConfig(rules: MemcacheRule[] | undefined): string {
  return JSON.stringify(rules === undefined ? { parser: 'memcache' } : { parser: 'memcache', rules });
}
