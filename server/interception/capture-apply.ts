// Puts a CaptureRuleSet (capture-rules.ts) into a network namespace and takes it out again, with
// the Debian `iptables` tools (nft backend) and `ip`: idempotent (rules already in place are left
// alone), reconciling (leftover ISTIO_* chains and jumps are replaced in the same
// iptables-restore transaction that installs the new rules, so capture never lapses) and removing
// exactly the ISTIO_* chains, the jumps to them and the rules the flags describe. In TPROXY mode it
// also adds the policy route Istio adds (`ip rule add fwmark MARK lookup TABLE`,
// `ip route add local default dev lo table TABLE`).
import { spawnSync } from 'node:child_process';
import { checkArguments, createdChains, deleteArguments, isBuiltInChain, jumpTarget, restoreInput, type CaptureRule, type CaptureRuleSet, type IpFamily, type IptablesTable } from './capture-rules.ts';

export interface CommandResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** Runs one command in the target namespace; `input` goes to its standard input. */
export type CommandRunner = (command: string, args: readonly string[], input?: string) => CommandResult;

/**
 * A runner for a network namespace: the current one (undefined), a name from `ip netns` (run through
 * `ip netns exec`) or a path such as /proc/PID/ns/net or /var/run/netns/NAME (run through nsenter).
 */
export function namespaceRunner(networkNamespace?: string): CommandRunner {
  const prefix = networkNamespace === undefined || networkNamespace === ''
    ? []
    : networkNamespace.includes('/')
      ? ['nsenter', `--net=${networkNamespace}`, '--']
      : ['ip', 'netns', 'exec', networkNamespace];
  return (command, args, input) => {
    const [program, ...rest] = [...prefix, command, ...args];
    const result = spawnSync(program ?? command, rest, { encoding: 'utf8', input: input ?? '', stdio: ['pipe', 'pipe', 'pipe'] });
    if (result.error !== undefined) {
      const missing = (result.error as NodeJS.ErrnoException).code === 'ENOENT';
      return { status: 127, stdout: '', stderr: missing ? `${program ?? command}: not installed${command.startsWith('ip') && command !== 'ip' ? ' (Debian package iptables; npm run setup installs it)' : ''}` : result.error.message };
    }
    return { status: result.status, stdout: result.stdout, stderr: result.stderr };
  };
}

const TOOLS: Record<IpFamily, { iptables: string; save: string; restore: string; ip: string }> = {
  ipv4: { iptables: 'iptables', save: 'iptables-save', restore: 'iptables-restore', ip: '-4' },
  ipv6: { iptables: 'ip6tables', save: 'ip6tables-save', restore: 'ip6tables-restore', ip: '-6' },
};

export interface CaptureChange {
  family: IpFamily;
  /** 'installed': nothing of ours was there; 'reconciled': leftovers were replaced; 'unchanged': already in place; 'removed'. */
  outcome: 'installed' | 'reconciled' | 'unchanged' | 'removed' | 'absent';
}

export class CaptureCommandError extends Error {}

/**
 * Rules one command owns in a namespace: every chain named with `chainPrefix` is its own, and so is
 * every jump to one; `policyRoute` is the TPROXY route (`ip rule fwmark MARK lookup TABLE` and a
 * local default route in TABLE) it adds beside them.
 */
export interface OwnedRuleSet {
  chainPrefix: string;
  ipv4: readonly CaptureRule[];
  ipv6: readonly CaptureRule[];
  families: readonly IpFamily[];
  policyRoute?: { mark: string; table: string };
}

/** Istio's capture rules as an owned rule set (chains ISTIO_*). */
export function ownedCaptureRules(ruleSet: CaptureRuleSet): OwnedRuleSet {
  const { mode, inboundPorts, tproxyMark, tproxyRouteTable, ipv6 } = ruleSet.options;
  const tproxyRoute = mode === 'TPROXY' && (inboundPorts === '*' || inboundPorts.length > 0);
  return {
    chainPrefix: 'ISTIO_',
    ipv4: ruleSet.ipv4,
    ipv6: ruleSet.ipv6,
    families: ipv6 ? ['ipv4', 'ipv6'] : ['ipv4'],
    ...(tproxyRoute ? { policyRoute: { mark: tproxyMark, table: tproxyRouteTable } } : {}),
  };
}

/** Installs the rules (both families as configured), then the policy route. */
export function applyCapture(owned: OwnedRuleSet, run: CommandRunner): CaptureChange[] {
  const changes: CaptureChange[] = [];
  for (const family of owned.families) {
    const rules = family === 'ipv4' ? owned.ipv4 : owned.ipv6;
    const tools = TOOLS[family];
    const current = parseSave(must(run, tools.save, []).stdout, owned.chainPrefix);
    if (isInPlace(rules, current, family, run, owned.chainPrefix)) {
      changes.push({ family, outcome: 'unchanged' });
      continue;
    }
    const input = removalInput(rules, current, family, run, { keepExpectedChains: true, chainPrefix: owned.chainPrefix }) + restoreInputAfterRemoval(rules, current);
    must(run, tools.restore, ['--noflush'], mergeTables(input));
    changes.push({ family, outcome: current.ownedChains.size > 0 ? 'reconciled' : 'installed' });
  }
  if (owned.policyRoute !== undefined) for (const family of owned.families) addPolicyRoute(owned.policyRoute, family, run);
  return changes;
}

/** Removes the owned chains, every jump to them and the other rules of the set; then the policy route. */
export function removeCapture(owned: OwnedRuleSet, run: CommandRunner): CaptureChange[] {
  const changes: CaptureChange[] = [];
  for (const family of owned.families) {
    const rules = family === 'ipv4' ? owned.ipv4 : owned.ipv6;
    const tools = TOOLS[family];
    const current = parseSave(must(run, tools.save, []).stdout, owned.chainPrefix);
    const input = removalInput(rules, current, family, run, { keepExpectedChains: false, chainPrefix: owned.chainPrefix });
    if (input === '') {
      changes.push({ family, outcome: 'absent' });
      continue;
    }
    must(run, tools.restore, ['--noflush'], mergeTables(input));
    changes.push({ family, outcome: 'removed' });
  }
  if (owned.policyRoute !== undefined) for (const family of owned.families) removePolicyRoute(owned.policyRoute, family, run);
  return changes;
}

/** What `--dry-run` prints: the iptables-restore input per family, then the route commands. */
export function dryRunText(owned: OwnedRuleSet): string {
  let text = '';
  for (const family of owned.families) {
    text += family === 'ipv4' ? `# IPv4: iptables-restore --noflush\n${restoreInput(owned.ipv4)}` : `# IPv6: ip6tables-restore --noflush\n${restoreInput(owned.ipv6)}`;
  }
  if (owned.policyRoute !== undefined) {
    for (const family of owned.families) {
      for (const command of policyRouteCommands(owned.policyRoute, family)) text += `# then: ip ${command.join(' ')}\n`;
    }
  }
  return text;
}

type PolicyRoute = NonNullable<OwnedRuleSet['policyRoute']>;

function policyRouteCommands(route: PolicyRoute, family: IpFamily): string[][] {
  return [
    [TOOLS[family].ip, 'rule', 'add', 'fwmark', route.mark, 'lookup', route.table],
    [TOOLS[family].ip, 'route', 'replace', 'local', 'default', 'dev', 'lo', 'table', route.table],
  ];
}

function addPolicyRoute(route: PolicyRoute, family: IpFamily, run: CommandRunner): void {
  const [rule, localRoute] = policyRouteCommands(route, family) as [string[], string[]];
  if (!hasFwmarkRule(route, family, run)) must(run, 'ip', rule);
  must(run, 'ip', localRoute);
}

function removePolicyRoute(route: PolicyRoute, family: IpFamily, run: CommandRunner): void {
  const ip = TOOLS[family].ip;
  while (hasFwmarkRule(route, family, run)) must(run, 'ip', [ip, 'rule', 'del', 'fwmark', route.mark, 'lookup', route.table]);
  run('ip', [ip, 'route', 'del', 'local', 'default', 'dev', 'lo', 'table', route.table]);
}

function hasFwmarkRule(route: PolicyRoute, family: IpFamily, run: CommandRunner): boolean {
  const listed = must(run, 'ip', [TOOLS[family].ip, 'rule', 'show', 'fwmark', route.mark, 'lookup', route.table]).stdout;
  return listed.trim() !== '';
}

/** The owned chains and the jumps to them from built-in chains, per table, from iptables-save output. */
export interface SavedState {
  /** `table:chain` of every owned chain, with its rule count. */
  ownedChains: Map<string, number>;
  /** Per table, the `-A CHAIN ...` lines of built-in chains that jump to an owned chain. */
  ownedJumps: Map<IptablesTable, string[]>;
}

export function parseSave(text: string, chainPrefix: string): SavedState {
  const ownedChains = new Map<string, number>();
  const ownedJumps = new Map<IptablesTable, string[]>();
  const jump = new RegExp(`(^| )-j ${chainPrefix}\\S*( |$)`);
  let table: IptablesTable | undefined;
  for (const line of text.split('\n')) {
    if (line.startsWith('*')) {
      const name = line.slice(1).trim();
      table = name === 'filter' || name === 'nat' || name === 'mangle' || name === 'raw' ? name : undefined;
      continue;
    }
    if (table === undefined) continue;
    if (line.startsWith(`:${chainPrefix}`)) {
      ownedChains.set(`${table}:${line.slice(1).split(' ')[0]}`, 0);
      continue;
    }
    if (!line.startsWith('-A ')) continue;
    const chain = line.split(' ')[1] ?? '';
    if (chain.startsWith(chainPrefix)) {
      const key = `${table}:${chain}`;
      ownedChains.set(key, (ownedChains.get(key) ?? 0) + 1);
    } else if (jump.test(line)) {
      const list = ownedJumps.get(table) ?? [];
      list.push(line);
      ownedJumps.set(table, list);
    }
  }
  return { ownedChains, ownedJumps };
}

function isInPlace(rules: readonly CaptureRule[], current: SavedState, family: IpFamily, run: CommandRunner, chainPrefix: string): boolean {
  if (current.ownedChains.size === 0) return false;
  const expectedCounts = new Map<string, number>();
  for (const [table, chains] of createdChains(rules)) for (const chain of chains) expectedCounts.set(`${table}:${chain}`, 0);
  for (const rule of rules) {
    if (isBuiltInChain(rule.chain)) continue;
    const key = `${rule.table}:${rule.chain}`;
    expectedCounts.set(key, (expectedCounts.get(key) ?? 0) + 1);
  }
  if (expectedCounts.size !== current.ownedChains.size) return false;
  for (const [key, count] of expectedCounts) if (current.ownedChains.get(key) !== count) return false;
  const expectedJumps = rules.filter((rule) => isBuiltInChain(rule.chain) && jumpTarget(rule)?.startsWith(chainPrefix)).length;
  const currentJumps = [...current.ownedJumps.values()].reduce((sum, list) => sum + list.length, 0);
  if (expectedJumps !== currentJumps) return false;
  return rules.every((rule) => run(TOOLS[family].iptables, checkArguments(rule)).status === 0);
}

/**
 * iptables-restore lines (with `*table` headers, merged later) that delete every jump to an owned
 * chain from a built-in chain, the other built-in-chain rules of `rules` that are present, flush
 * every owned chain and delete the ones not kept.
 */
function removalInput(rules: readonly CaptureRule[], current: SavedState, family: IpFamily, run: CommandRunner, options: { keepExpectedChains: boolean; chainPrefix: string }): string {
  const lines: Array<[IptablesTable, string]> = [];
  for (const [table, jumps] of current.ownedJumps) for (const jump of jumps) lines.push([table, `-D${jump.slice(2)}`]);
  for (const rule of rules) {
    if (!isBuiltInChain(rule.chain) || jumpTarget(rule)?.startsWith(options.chainPrefix)) continue;
    if (run(TOOLS[family].iptables, checkArguments(rule)).status === 0) lines.push([rule.table, deleteArguments(rule).join(' ')]);
  }
  const expected = createdChains(rules);
  for (const key of current.ownedChains.keys()) {
    const [table, chain] = key.split(':') as [IptablesTable, string];
    lines.push([table, `-F ${chain}`]);
  }
  for (const key of current.ownedChains.keys()) {
    const [table, chain] = key.split(':') as [IptablesTable, string];
    if (!(options.keepExpectedChains && expected.get(table)?.has(chain))) lines.push([table, `-X ${chain}`]);
  }
  return lines.map(([table, line]) => `* ${table}\n${line}\n`).join('');
}

/** The restore input of `rules`, without `-N` for chains that exist already (they were flushed). */
function restoreInputAfterRemoval(rules: readonly CaptureRule[], current: SavedState): string {
  return restoreInput(rules)
    .split('\n')
    .filter((line, index, all) => {
      if (!line.startsWith('-N ')) return true;
      const table = tableAbove(all, index);
      return !current.ownedChains.has(`${table}:${line.slice(3)}`);
    })
    .join('\n');
}

function tableAbove(lines: readonly string[], index: number): string {
  for (let i = index; i >= 0; i--) if (lines[i]?.startsWith('* ')) return lines[i]!.slice(2);
  return '';
}

/** Groups `* table` sections of several inputs into one section per table, each with one COMMIT. */
function mergeTables(input: string): string {
  const sections = new Map<string, string[]>();
  let table = '';
  for (const line of input.split('\n')) {
    if (line.startsWith('* ')) {
      table = line.slice(2);
      if (!sections.has(table)) sections.set(table, []);
    } else if (line !== '' && line !== 'COMMIT' && table !== '') {
      sections.get(table)?.push(line);
    }
  }
  let merged = '';
  for (const [name, lines] of sections) if (lines.length > 0) merged += `*${name}\n${lines.join('\n')}\nCOMMIT\n`;
  return merged;
}

function must(run: CommandRunner, command: string, args: readonly string[], input?: string): CommandResult {
  const result = run(command, args, input);
  if (result.status !== 0) {
    const detail = (result.stderr || result.stdout).trim();
    const shown = input === undefined ? '' : `\ninput was:\n${input}`;
    throw new CaptureCommandError(`${command} ${args.join(' ')} failed (exit ${result.status ?? 'signal'}): ${detail || 'no message'}${shown}`);
  }
  return result;
}
