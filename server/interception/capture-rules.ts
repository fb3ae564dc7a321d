// Istio's sidecar capture rules, as `istio-iptables` (tools/istio-iptables in istio.io/istio) builds
// them for a set of flags: the same chains (ISTIO_INBOUND, ISTIO_IN_REDIRECT, ISTIO_OUTPUT,
// ISTIO_REDIRECT; ISTIO_DIVERT and ISTIO_TPROXY in TPROXY mode; ISTIO_DROP), the same exclusions and
// the same rule order, rendered as the same iptables-restore input. Only builds rules: applying
// them to a network namespace is capture-apply.ts. Checked against Istio's golden files
// (test/server/interception/istio-golden.test.ts, docs/sidecar.md).

/** The flags of `istio-iptables` that Weir implements, already split. */
export interface CaptureOptions {
  /** -p: where outbound TCP is redirected (virtualOutbound). */
  proxyPort: number;
  /** -z: where inbound TCP is redirected (virtualInbound). */
  inboundCapturePort: number;
  /** -e: Istio's HBONE tunnel port, never captured inbound. */
  inboundTunnelPort: number;
  /** -u: uids whose traffic is never captured (the proxy). */
  proxyUids: readonly string[];
  /** -g: gids whose traffic is never captured. */
  proxyGids: readonly string[];
  /** -m */
  mode: InterceptionMode;
  /** -b: inbound ports to capture; '*' for all, empty for none. */
  inboundPorts: PortSelection;
  /** -d: inbound ports never captured (only with -b '*'). */
  inboundPortsExclude: readonly string[];
  /** -i: outbound destinations to capture; '*' for all, empty for none. */
  outboundRangesInclude: RangeSelection;
  /** -x: outbound destinations never captured. */
  outboundRangesExclude: readonly string[];
  /** -q: outbound ports always captured. */
  outboundPortsInclude: readonly string[];
  /** -o: outbound ports never captured. */
  outboundPortsExclude: readonly string[];
  /** -k: interfaces whose inbound traffic is treated as outbound. */
  virtualInterfaces: readonly string[];
  /** -c: interfaces neither direction captures. */
  excludeInterfaces: readonly string[];
  /** -t: the TPROXY packet mark. */
  tproxyMark: string;
  /** -r: the policy routing table TPROXY-marked packets use. */
  tproxyRouteTable: string;
  /** --drop-invalid: drop packets conntrack calls INVALID instead of letting them reset connections. */
  dropInvalid: boolean;
  /** Also build the IPv6 (ip6tables) rules. Istio turns this on when the pod's address is IPv6. */
  ipv6: boolean;
}

export type InterceptionMode = 'REDIRECT' | 'TPROXY';
export type PortSelection = '*' | readonly string[];
export type RangeSelection = '*' | readonly string[];

export type IpFamily = 'ipv4' | 'ipv6';

/** One rule as iptables takes it: `-t <table> <params...>`, params starting with -A/-I <chain>. */
export interface CaptureRule {
  readonly table: IptablesTable;
  readonly chain: string;
  readonly params: readonly string[];
}

export type IptablesTable = 'filter' | 'mangle' | 'nat' | 'raw';

export interface CaptureRuleSet {
  readonly options: CaptureOptions;
  readonly ipv4: readonly CaptureRule[];
  /** Empty unless options.ipv6. */
  readonly ipv6: readonly CaptureRule[];
}

export const ISTIO_CHAINS = {
  output: 'ISTIO_OUTPUT',
  inbound: 'ISTIO_INBOUND',
  divert: 'ISTIO_DIVERT',
  tproxy: 'ISTIO_TPROXY',
  redirect: 'ISTIO_REDIRECT',
  inRedirect: 'ISTIO_IN_REDIRECT',
  drop: 'ISTIO_DROP',
} as const;

/** The address Envoy's inbound passthrough cluster binds to; its traffic is never captured. */
export const INBOUND_PASSTHROUGH_BIND = { ipv4: '127.0.0.6', ipv6: '::6' } as const;
/** Istio marks Envoy -> app packets on lo in TPROXY mode with this, so they are not captured again. */
export const OUTBOUND_MARK = '1338';

/** The values Istio's sidecar injector passes to istio-init (and so Weir's defaults). */
export const SIDECAR_CAPTURE_DEFAULTS: CaptureOptions = {
  proxyPort: 15001,
  inboundCapturePort: 15006,
  inboundTunnelPort: 15008,
  proxyUids: ['1337'],
  proxyGids: ['1337'],
  mode: 'REDIRECT',
  inboundPorts: '*',
  inboundPortsExclude: ['15090', '15021', '15020'],
  outboundRangesInclude: '*',
  outboundRangesExclude: [],
  outboundPortsInclude: [],
  outboundPortsExclude: [],
  virtualInterfaces: [],
  excludeInterfaces: [],
  tproxyMark: '1337',
  tproxyRouteTable: '133',
  dropInvalid: false,
  ipv6: false,
};

/** Chains and targets iptables has built in; they are never created or deleted. */
const BUILT_IN_CHAINS_AND_TARGETS = new Set(['INPUT', 'OUTPUT', 'FORWARD', 'PREROUTING', 'POSTROUTING', 'ACCEPT', 'RETURN', 'DROP']);

export function isBuiltInChain(chain: string): boolean {
  return BUILT_IN_CHAINS_AND_TARGETS.has(chain);
}

const IPV4_LOOPBACK = '127.0.0.1/32';
const IPV6_LOOPBACK = '::1/128';

interface ParsedRanges {
  wildcard: boolean;
  cidrs: string[];
  hasLoopback: boolean;
}

/** Builds the rules, in Istio's order. Throws on an invalid CIDR or an excluded wildcard. */
export function buildCaptureRules(options: CaptureOptions): CaptureRuleSet {
  const v4: CaptureRule[] = [];
  const v6: CaptureRule[] = [];
  const appendV4 = (chain: string, table: IptablesTable, ...params: string[]): void => {
    v4.push({ table, chain, params: ['-A', chain, ...params] });
  };
  const appendV6 = (chain: string, table: IptablesTable, ...params: string[]): void => {
    if (options.ipv6) v6.push({ table, chain, params: ['-A', chain, ...params] });
  };
  const append = (chain: string, table: IptablesTable, ...params: string[]): void => {
    appendV4(chain, table, ...params);
    appendV6(chain, table, ...params);
  };
  /** A rule naming an address that differs per family: `at` marks where it goes. */
  const appendVersioned = (ipv4: string, ipv6: string, chain: string, table: IptablesTable, ...params: Array<string | typeof AT>): void => {
    appendV4(chain, table, ...params.map((param) => (param === AT ? ipv4 : param)));
    appendV6(chain, table, ...params.map((param) => (param === AT ? ipv6 : param)));
  };
  const insertV4 = (chain: string, table: IptablesTable, position: number, ...params: string[]): void => {
    v4.push({ table, chain, params: ['-I', chain, String(position), ...params] });
  };
  const insertV6 = (chain: string, table: IptablesTable, position: number, ...params: string[]): void => {
    if (options.ipv6) v6.push({ table, chain, params: ['-I', chain, String(position), ...params] });
  };
  const insert = (chain: string, table: IptablesTable, position: number, ...params: string[]): void => {
    insertV4(chain, table, position, ...params);
    insertV6(chain, table, position, ...params);
  };

  const exclude = separateFamilies(options.outboundRangesExclude, '-x');
  if (exclude.ipv4.wildcard) throw new Error('-x: "*" would exclude every destination; list CIDRs to exclude, or capture nothing with -i ""');
  const include = options.outboundRangesInclude === '*'
    ? { ipv4: { wildcard: true, cidrs: [], hasLoopback: false }, ipv6: { wildcard: true, cidrs: [], hasLoopback: false } }
    : separateFamilies(options.outboundRangesInclude, '-i');
  const tproxy = options.mode === 'TPROXY';
  const { inbound, inRedirect, redirect, output, divert, tproxy: tproxyChain, drop } = ISTIO_CHAINS;
  const tunnelPort = String(options.inboundTunnelPort);

  for (const nic of options.excludeInterfaces) {
    append('PREROUTING', 'nat', '-i', nic, '-j', 'RETURN');
    append('OUTPUT', 'nat', '-o', nic, '-j', 'RETURN');
  }
  if (tproxy) {
    for (const nic of options.excludeInterfaces) {
      append('PREROUTING', 'mangle', '-i', nic, '-j', 'RETURN');
      append('OUTPUT', 'mangle', '-o', nic, '-j', 'RETURN');
    }
  }
  for (const nic of options.virtualInterfaces) insert('PREROUTING', 'nat', 1, '-i', nic, '-j', 'RETURN');
  if (options.dropInvalid) {
    append('PREROUTING', 'mangle', '-m', 'conntrack', '--ctstate', 'INVALID', '-j', drop);
    append(drop, 'mangle', '-j', 'DROP');
  }
  append(inbound, 'nat', '-p', 'tcp', '--dport', tunnelPort, '-j', 'RETURN');
  append(redirect, 'nat', '-p', 'tcp', '-j', 'REDIRECT', '--to-ports', String(options.proxyPort));
  append(inRedirect, 'nat', '-p', 'tcp', '-j', 'REDIRECT', '--to-ports', String(options.inboundCapturePort));

  // Inbound.
  const inboundAll = options.inboundPorts === '*';
  const inboundList = options.inboundPorts === '*' ? [] : options.inboundPorts;
  if (inboundAll || inboundList.length > 0) {
    const table: IptablesTable = tproxy ? 'mangle' : 'nat';
    if (tproxy) {
      append(divert, 'mangle', '-j', 'MARK', '--set-mark', options.tproxyMark);
      append(divert, 'mangle', '-j', 'ACCEPT');
      appendVersioned(IPV4_LOOPBACK, IPV6_LOOPBACK, tproxyChain, 'mangle', '!', '-d', AT, '-p', 'tcp', '-j', 'TPROXY', '--tproxy-mark', `${options.tproxyMark}/0xffffffff`, '--on-port', String(options.inboundCapturePort));
    }
    append('PREROUTING', table, '-p', 'tcp', '-j', inbound);
    if (inboundAll) {
      for (const port of options.inboundPortsExclude) append(inbound, table, '-p', 'tcp', '--dport', port, '-j', 'RETURN');
      if (tproxy) {
        append(inbound, 'mangle', '-p', 'tcp', '-m', 'conntrack', '--ctstate', 'RELATED,ESTABLISHED', '-j', divert);
        append(inbound, 'mangle', '-p', 'tcp', '-j', tproxyChain);
      } else {
        append(inbound, 'nat', '-p', 'tcp', '-j', inRedirect);
      }
    } else {
      for (const port of inboundList) {
        if (tproxy) {
          append(inbound, 'mangle', '-p', 'tcp', '--dport', port, '-m', 'conntrack', '--ctstate', 'RELATED,ESTABLISHED', '-j', divert);
          append(inbound, 'mangle', '-p', 'tcp', '--dport', port, '-j', tproxyChain);
        } else {
          append(inbound, 'nat', '-p', 'tcp', '--dport', port, '-j', inRedirect);
        }
      }
    }
  }

  // Outbound.
  append('OUTPUT', 'nat', '-j', output);
  for (const port of options.outboundPortsExclude) {
    append(output, 'nat', '-p', 'tcp', '--dport', port, '-j', 'RETURN');
    append(output, 'nat', '-p', 'udp', '--dport', port, '-j', 'RETURN');
  }
  appendVersioned(`${INBOUND_PASSTHROUGH_BIND.ipv4}/32`, `${INBOUND_PASSTHROUGH_BIND.ipv6}/128`, output, 'nat', '-o', 'lo', '-s', AT, '-j', 'RETURN');
  const loopbackIncluded = include.ipv4.hasLoopback || include.ipv6.hasLoopback;
  for (const [match, owners] of [['--uid-owner', options.proxyUids], ['--gid-owner', options.proxyGids]] as const) {
    for (const owner of owners) {
      // The app calling itself through a service address: app -> Envoy (outbound) -> Envoy (inbound) -> app.
      appendVersioned(IPV4_LOOPBACK, IPV6_LOOPBACK, output, 'nat', '-o', 'lo', '!', '-d', AT, '-p', 'tcp', '!', '--dport', tunnelPort, '-m', 'owner', match, owner, '-j', inRedirect);
      // The app calling itself by its own address stays local, unless loopback is captured explicitly.
      if (!loopbackIncluded) append(output, 'nat', '-o', 'lo', '-m', 'owner', '!', match, owner, '-j', 'RETURN');
      // Envoy's own traffic is never captured (no loops).
      append(output, 'nat', '-m', 'owner', match, owner, '-j', 'RETURN');
    }
  }
  appendVersioned(IPV4_LOOPBACK, IPV6_LOOPBACK, output, 'nat', '-d', AT, '-j', 'RETURN');
  for (const cidr of exclude.ipv4.cidrs) appendV4(output, 'nat', '-d', cidr, '-j', 'RETURN');
  for (const cidr of exclude.ipv6.cidrs) appendV6(output, 'nat', '-d', cidr, '-j', 'RETURN');
  for (const port of options.outboundPortsInclude) append(output, 'nat', '-p', 'tcp', '--dport', port, '-j', redirect);
  for (const [ranges, appendFamily, insertFamily] of [[include.ipv4, appendV4, insertV4], [include.ipv6, appendV6, insertV6]] as const) {
    if (ranges.wildcard) {
      appendFamily(output, 'nat', '-j', redirect);
      for (const nic of options.virtualInterfaces) insertFamily('PREROUTING', 'nat', 1, '-i', nic, '-j', redirect);
    } else {
      for (const cidr of ranges.cidrs) {
        for (const nic of options.virtualInterfaces) insertFamily('PREROUTING', 'nat', 1, '-i', nic, '-d', cidr, '-j', redirect);
        appendFamily(output, 'nat', '-d', cidr, '-j', redirect);
      }
    }
  }

  if (tproxy) {
    // The mark of Envoy's original_src upstream connections, kept on the connection.
    append('PREROUTING', 'mangle', '-p', 'tcp', '-m', 'mark', '--mark', options.tproxyMark, '-j', 'CONNMARK', '--save-mark');
    append('OUTPUT', 'mangle', '-p', 'tcp', '-o', 'lo', '-m', 'mark', '--mark', options.tproxyMark, '-j', 'RETURN');
    for (const [match, owners] of [['--uid-owner', options.proxyUids], ['--gid-owner', options.proxyGids]] as const) {
      for (const owner of owners) {
        appendVersioned(IPV4_LOOPBACK, IPV6_LOOPBACK, 'OUTPUT', 'mangle', '!', '-d', AT, '-p', 'tcp', '-o', 'lo', '-m', 'owner', match, owner, '-j', 'MARK', '--set-mark', OUTBOUND_MARK);
      }
    }
    append('OUTPUT', 'mangle', '-p', 'tcp', '-m', 'connmark', '--mark', options.tproxyMark, '-j', 'CONNMARK', '--restore-mark');
    insert(inbound, 'mangle', 1, '-p', 'tcp', '-m', 'mark', '--mark', options.tproxyMark, '-j', 'RETURN');
    insertV4(inbound, 'mangle', 2, '-p', 'tcp', '-s', `${INBOUND_PASSTHROUGH_BIND.ipv4}/32`, '-i', 'lo', '-j', 'RETURN');
    insertV6(inbound, 'mangle', 2, '-p', 'tcp', '-s', `${INBOUND_PASSTHROUGH_BIND.ipv6}/128`, '-i', 'lo', '-j', 'RETURN');
    insert(inbound, 'mangle', 3, '-p', 'tcp', '-i', 'lo', '-m', 'mark', '!', '--mark', OUTBOUND_MARK, '-j', 'RETURN');
  }
  return { options, ipv4: v4, ipv6: v6 };
}

const AT = Symbol('family-specific address');

/**
 * The iptables-restore input for one family, as istio-iptables writes it: per table (sorted), the
 * chains it creates (`-N`, in order of first use, then chains only jumped to), then the rules.
 */
export function restoreInput(rules: readonly CaptureRule[]): string {
  const tables = new Map<IptablesTable, string[]>([['filter', []], ['nat', []], ['mangle', []]]);
  const lines = (table: IptablesTable): string[] => {
    let list = tables.get(table);
    if (list === undefined) {
      list = [];
      tables.set(table, list);
    }
    return list;
  };
  const created = new Set<string>();
  const create = (table: IptablesTable, chain: string): void => {
    const key = `${chain}:${table}`;
    if (created.has(key)) return;
    created.add(key);
    if (!isBuiltInChain(chain)) lines(table).push(`-N ${chain}`);
  };
  for (const rule of rules) create(rule.table, rule.chain);
  for (const rule of rules) {
    const target = jumpTarget(rule);
    if (target !== undefined) create(rule.table, target);
  }
  for (const rule of rules) lines(rule.table).push(rule.params.join(' '));
  let text = '';
  for (const table of [...tables.keys()].sort()) {
    const body = tables.get(table) ?? [];
    if (body.length === 0) continue;
    text += `* ${table}\n${body.join('\n')}\nCOMMIT\n`;
  }
  return text;
}

/** The chain a rule jumps to when `-j CHAIN` ends it (targets with options are not chains). */
export function jumpTarget(rule: CaptureRule): string | undefined {
  const { params } = rule;
  return params.length >= 2 && params[params.length - 2] === '-j' ? params[params.length - 1] : undefined;
}

/** The chains (not built in) the rules of one family create, per table. */
export function createdChains(rules: readonly CaptureRule[]): Map<IptablesTable, Set<string>> {
  const chains = new Map<IptablesTable, Set<string>>();
  const add = (table: IptablesTable, chain: string | undefined): void => {
    if (chain === undefined || isBuiltInChain(chain)) return;
    let set = chains.get(table);
    if (set === undefined) chains.set(table, (set = new Set()));
    set.add(chain);
  };
  for (const rule of rules) {
    add(rule.table, rule.chain);
    add(rule.table, jumpTarget(rule));
  }
  return chains;
}

/** `iptables -C` arguments that check whether a rule is present (an insert checks the same spec). */
export function checkArguments(rule: CaptureRule): string[] {
  const [op, chain, ...rest] = rule.params;
  const spec = op === '-I' ? rest.slice(1) : rest;
  return ['-t', rule.table, '-C', chain ?? '', ...spec];
}

/** `iptables -D` arguments that delete a rule. */
export function deleteArguments(rule: CaptureRule): string[] {
  return ['-D', ...checkArguments(rule).slice(3)];
}

function separateFamilies(list: readonly string[], flag: string): { ipv4: ParsedRanges; ipv6: ParsedRanges } {
  const ipv4: ParsedRanges = { wildcard: false, cidrs: [], hasLoopback: false };
  const ipv6: ParsedRanges = { wildcard: false, cidrs: [], hasLoopback: false };
  if (list.length === 1 && list[0] === '*') return { ipv4: { ...ipv4, wildcard: true }, ipv6: { ...ipv6, wildcard: true } };
  for (const entry of list) {
    const prefix = parsePrefix(entry);
    if (prefix === undefined) throw new Error(`${flag}: "${entry}" is not a CIDR such as 10.0.0.0/8 or 2001:db8::/32`);
    const family = prefix.family === 4 ? ipv4 : ipv6;
    family.cidrs.push(prefix.text);
    if (prefix.loopback) family.hasLoopback = true;
  }
  return { ipv4, ipv6 };
}

function parsePrefix(text: string): { family: 4 | 6; text: string; loopback: boolean } | undefined {
  const slash = text.indexOf('/');
  if (slash < 0) return undefined;
  const address = text.slice(0, slash);
  const bits = text.slice(slash + 1);
  if (!/^\d{1,3}$/.test(bits)) return undefined;
  const length = Number(bits);
  const ipv4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(address);
  if (ipv4 !== null) {
    if (ipv4.slice(1).some((octet) => Number(octet) > 255 || (octet.length > 1 && octet.startsWith('0'))) || length > 32) return undefined;
    return { family: 4, text, loopback: ipv4[1] === '127' };
  }
  const url = safeIpv6(address);
  if (url === undefined || length > 128) return undefined;
  return { family: 6, text: `${url}/${length}`, loopback: url === '::1' };
}

/** An IPv6 address in its canonical text form (RFC 5952, as Go prints it), or undefined. */
function safeIpv6(address: string): string | undefined {
  try {
    const host = new URL(`http://[${address}]/`).hostname;
    return host.slice(1, -1);
  } catch {
    return undefined;
  }
}
