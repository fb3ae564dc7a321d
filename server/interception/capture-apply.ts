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

/** Installs the rules (both families as configured), then the TPROXY policy route. */
export function applyCapture(ruleSet: CaptureRuleSet, run: CommandRunner): CaptureChange[] {
  const changes: CaptureChange[] = [];
  for (const family of families(ruleSet)) {
    const rules = family === 'ipv4' ? ruleSet.ipv4 : ruleSet.ipv6;
    const tools = TOOLS[family];
    const current = parseSave(must(run, tools.save, []).stdout);
    if (isInPlace(rules, current, family, run)) {
      changes.push({ family, outcome: 'unchanged' });
      continue;
    }
    const input = removalInput(rules, current, family, run, { keepExpectedChains: true }) + restoreInputAfterRemoval(rules, current);
    must(run, tools.restore, ['--noflush'], mergeTables(input));
    changes.push({ family, outcome: current.istioChains.size > 0 ? 'reconciled' : 'installed' });
  }
  if (usesTproxyRoute(ruleSet)) for (const family of families(ruleSet)) addTproxyRoute(ruleSet, family, run);
  return changes;
}

/** Removes the ISTIO_* chains, every jump to them and the other rules the flags describe; then the TPROXY route. */
export function removeCapture(ruleSet: CaptureRuleSet, run: CommandRunner): CaptureChange[] {
  const changes: CaptureChange[] = [];
  for (const family of families(ruleSet)) {
    const rules = family === 'ipv4' ? ruleSet.ipv4 : ruleSet.ipv6;
    const tools = TOOLS[family];
    const current = parseSave(must(run, tools.save, []).stdout);
    const input = removalInput(rules, current, family, run, { keepExpectedChains: false });
    if (input === '') {
      changes.push({ family, outcome: 'absent' });
      continue;
    }
    must(run, tools.restore, ['--noflush'], mergeTables(input));
    changes.push({ family, outcome: 'removed' });
  }
  if (usesTproxyRoute(ruleSet)) for (const family of families(ruleSet)) removeTproxyRoute(ruleSet, family, run);
  return changes;
}

/** What `--dry-run` prints: the iptables-restore input per family, then the route commands. */
export function dryRunText(ruleSet: CaptureRuleSet): string {
  let text = `# IPv4: iptables-restore --noflush\n${restoreInput(ruleSet.ipv4)}`;
  if (ruleSet.options.ipv6) text += `# IPv6: ip6tables-restore --noflush\n${restoreInput(ruleSet.ipv6)}`;
  if (usesTproxyRoute(ruleSet)) {
    for (const family of families(ruleSet)) {
      for (const command of tproxyRouteCommands(ruleSet, family)) text += `# then: ip ${command.join(' ')}\n`;
    }
  }
  return text;
}

function families(ruleSet: CaptureRuleSet): IpFamily[] {
  return ruleSet.options.ipv6 ? ['ipv4', 'ipv6'] : ['ipv4'];
}

function usesTproxyRoute(ruleSet: CaptureRuleSet): boolean {
  const { mode, inboundPorts } = ruleSet.options;
  return mode === 'TPROXY' && (inboundPorts === '*' || inboundPorts.length > 0);
}

function tproxyRouteCommands(ruleSet: CaptureRuleSet, family: IpFamily): string[][] {
  const { tproxyMark, tproxyRouteTable } = ruleSet.options;
  return [
    [TOOLS[family].ip, 'rule', 'add', 'fwmark', tproxyMark, 'lookup', tproxyRouteTable],
    [TOOLS[family].ip, 'route', 'replace', 'local', 'default', 'dev', 'lo', 'table', tproxyRouteTable],
  ];
}

function addTproxyRoute(ruleSet: CaptureRuleSet, family: IpFamily, run: CommandRunner): void {
  const [rule, route] = tproxyRouteCommands(ruleSet, family) as [string[], string[]];
  if (!hasFwmarkRule(ruleSet, family, run)) must(run, 'ip', rule);
  must(run, 'ip', route);
}

function removeTproxyRoute(ruleSet: CaptureRuleSet, family: IpFamily, run: CommandRunner): void {
  const { tproxyMark, tproxyRouteTable } = ruleSet.options;
  const ip = TOOLS[family].ip;
  while (hasFwmarkRule(ruleSet, family, run)) must(run, 'ip', [ip, 'rule', 'del', 'fwmark', tproxyMark, 'lookup', tproxyRouteTable]);
  run('ip', [ip, 'route', 'del', 'local', 'default', 'dev', 'lo', 'table', tproxyRouteTable]);
}

function hasFwmarkRule(ruleSet: CaptureRuleSet, family: IpFamily, run: CommandRunner): boolean {
  const { tproxyMark, tproxyRouteTable } = ruleSet.options;
  const listed = must(run, 'ip', [TOOLS[family].ip, 'rule', 'show', 'fwmark', tproxyMark, 'lookup', tproxyRouteTable]).stdout;
  return listed.trim() !== '';
}

/** The ISTIO_* chains and the rules of built-in chains, per table, from iptables-save output. */
export interface SavedState {
  /** `table:chain` of every ISTIO_* chain, with its rule count. */
  istioChains: Map<string, number>;
  /** Per table, the `-A CHAIN ...` lines of built-in chains that jump to an ISTIO_* chain. */
  istioJumps: Map<IptablesTable, string[]>;
}

export function parseSave(text: string): SavedState {
  const istioChains = new Map<string, number>();
  const istioJumps = new Map<IptablesTable, string[]>();
  let table: IptablesTable | undefined;
  for (const line of text.split('\n')) {
    if (line.startsWith('*')) {
      const name = line.slice(1).trim();
      table = name === 'filter' || name === 'nat' || name === 'mangle' || name === 'raw' ? name : undefined;
      continue;
    }
    if (table === undefined) continue;
    if (line.startsWith(':ISTIO_')) {
      istioChains.set(`${table}:${line.slice(1).split(' ')[0]}`, 0);
      continue;
    }
    if (!line.startsWith('-A ')) continue;
    const chain = line.split(' ')[1] ?? '';
    if (chain.startsWith('ISTIO_')) {
      const key = `${table}:${chain}`;
      istioChains.set(key, (istioChains.get(key) ?? 0) + 1);
    } else if (/ -j ISTIO_\S+$/.test(line) || /(^| )-j ISTIO_\S+( |$)/.test(line)) {
      const list = istioJumps.get(table) ?? [];
      list.push(line);
      istioJumps.set(table, list);
    }
  }
  return { istioChains, istioJumps };
}

function isInPlace(rules: readonly CaptureRule[], current: SavedState, family: IpFamily, run: CommandRunner): boolean {
  if (current.istioChains.size === 0) return false;
  const expectedCounts = new Map<string, number>();
  for (const [table, chains] of createdChains(rules)) for (const chain of chains) expectedCounts.set(`${table}:${chain}`, 0);
  for (const rule of rules) {
    if (isBuiltInChain(rule.chain)) continue;
    const key = `${rule.table}:${rule.chain}`;
    expectedCounts.set(key, (expectedCounts.get(key) ?? 0) + 1);
  }
  if (expectedCounts.size !== current.istioChains.size) return false;
  for (const [key, count] of expectedCounts) if (current.istioChains.get(key) !== count) return false;
  const expectedJumps = rules.filter((rule) => isBuiltInChain(rule.chain) && jumpTarget(rule)?.startsWith('ISTIO_')).length;
  const currentJumps = [...current.istioJumps.values()].reduce((sum, list) => sum + list.length, 0);
  if (expectedJumps !== currentJumps) return false;
  return rules.every((rule) => run(TOOLS[family].iptables, checkArguments(rule)).status === 0);
}

/**
 * iptables-restore lines (with `*table` headers, merged later) that delete every jump to an
 * ISTIO_* chain from a built-in chain, the other built-in-chain rules of `rules` that are present,
 * flush every ISTIO_* chain and delete the ones not kept.
 */
function removalInput(rules: readonly CaptureRule[], current: SavedState, family: IpFamily, run: CommandRunner, options: { keepExpectedChains: boolean }): string {
  const lines: Array<[IptablesTable, string]> = [];
  for (const [table, jumps] of current.istioJumps) for (const jump of jumps) lines.push([table, `-D${jump.slice(2)}`]);
  for (const rule of rules) {
    if (!isBuiltInChain(rule.chain) || jumpTarget(rule)?.startsWith('ISTIO_')) continue;
    if (run(TOOLS[family].iptables, checkArguments(rule)).status === 0) lines.push([rule.table, deleteArguments(rule).join(' ')]);
  }
  const expected = createdChains(rules);
  for (const key of current.istioChains.keys()) {
    const [table, chain] = key.split(':') as [IptablesTable, string];
    lines.push([table, `-F ${chain}`]);
  }
  for (const key of current.istioChains.keys()) {
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
      return !current.istioChains.has(`${table}:${line.slice(3)}`);
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
