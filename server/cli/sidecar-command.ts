// `weir sidecar iptables`: Istio's capture rules for a sidecar, with istio-iptables' flags
// (server/interception/capture-rules.ts), installed in the current network namespace (or the one
// --network-namespace names), printed with --dry-run, removed with --cleanup. Defaults are the
// values Istio's injector passes to istio-init, so the bare command captures like an injected pod.
import { parseArgs } from 'node:util';
import { applyCapture, dryRunText, namespaceRunner, ownedCaptureRules, removeCapture, type CaptureChange } from '../interception/capture-apply.ts';
import { buildCaptureRules, SIDECAR_CAPTURE_DEFAULTS, type CaptureOptions } from '../interception/capture-rules.ts';

export class SidecarUsageError extends Error {}

export interface SidecarIptablesCommand {
  options: CaptureOptions;
  action: 'apply' | 'dry-run' | 'cleanup';
  networkNamespace?: string;
}

const FLAGS = {
  'envoy-port': { type: 'string', short: 'p' },
  'inbound-capture-port': { type: 'string', short: 'z' },
  'inbound-tunnel-port': { type: 'string', short: 'e' },
  'proxy-uid': { type: 'string', short: 'u' },
  'proxy-gid': { type: 'string', short: 'g' },
  'istio-inbound-interception-mode': { type: 'string', short: 'm' },
  'istio-inbound-ports': { type: 'string', short: 'b' },
  'istio-local-exclude-ports': { type: 'string', short: 'd' },
  'istio-service-cidr': { type: 'string', short: 'i' },
  'istio-service-exclude-cidr': { type: 'string', short: 'x' },
  'istio-outbound-ports': { type: 'string', short: 'q' },
  'istio-local-outbound-ports-exclude': { type: 'string', short: 'o' },
  'kube-virt-interfaces': { type: 'string', short: 'k' },
  'istio-exclude-interfaces': { type: 'string', short: 'c' },
  'istio-inbound-tproxy-mark': { type: 'string', short: 't' },
  'istio-inbound-tproxy-route-table': { type: 'string', short: 'r' },
  ipv6: { type: 'boolean' },
  'drop-invalid': { type: 'boolean' },
  'network-namespace': { type: 'string' },
  'dry-run': { type: 'boolean', short: 'n' },
  cleanup: { type: 'boolean' },
  'cleanup-only': { type: 'boolean' },
} as const;

/** Parses the arguments after `weir sidecar iptables`. */
export function sidecarIptablesFrom(args: readonly string[]): SidecarIptablesCommand {
  let values;
  try {
    ({ values } = parseArgs({ args: [...args], options: FLAGS, strict: true, allowPositionals: false }));
  } catch (error) {
    throw new SidecarUsageError(error instanceof Error ? error.message : String(error));
  }
  const defaults = SIDECAR_CAPTURE_DEFAULTS;
  const port = (flag: string, value: string | undefined, fallback: number): number => {
    if (value === undefined) return fallback;
    const parsed = Number(value);
    if (!Number.isInteger(parsed) || parsed < 1 || parsed > 65535) throw new SidecarUsageError(`${flag} ${value}: expected a port 1-65535`);
    return parsed;
  };
  const list = (value: string | undefined, fallback: readonly string[]): readonly string[] => (value === undefined ? fallback : split(value));
  const ports = (flag: string, value: string | undefined, fallback: readonly string[]): readonly string[] => {
    const entries = list(value, fallback);
    for (const entry of entries) if (!/^\d+(:\d+)?$/.test(entry)) throw new SidecarUsageError(`${flag} ${value}: "${entry}" is not a port (comma-separated ports, e.g. 80,8080)`);
    return entries;
  };
  const wildcardOr = <T extends readonly string[]>(value: string | undefined, fallback: '*' | T, parse: (text: string) => T): '*' | T =>
    value === undefined ? fallback : value.trim() === '*' ? '*' : parse(value);
  const mode = values['istio-inbound-interception-mode'] ?? defaults.mode;
  if (mode !== 'REDIRECT' && mode !== 'TPROXY') throw new SidecarUsageError(`-m ${mode}: expected REDIRECT or TPROXY`);
  const uids = list(values['proxy-uid'], defaults.proxyUids);
  const numeric = (flag: string, value: string | undefined, fallback: string): string => {
    if (value === undefined) return fallback;
    if (!/^\d+$/.test(value)) throw new SidecarUsageError(`${flag} ${value}: expected a number`);
    return value;
  };
  const options: CaptureOptions = {
    proxyPort: port('-p', values['envoy-port'], defaults.proxyPort),
    inboundCapturePort: port('-z', values['inbound-capture-port'], defaults.inboundCapturePort),
    inboundTunnelPort: port('-e', values['inbound-tunnel-port'], defaults.inboundTunnelPort),
    proxyUids: uids,
    // As istio-iptables: the gids default to the uids.
    proxyGids: list(values['proxy-gid'], uids),
    mode,
    inboundPorts: wildcardOr(values['istio-inbound-ports'], defaults.inboundPorts, (text) => ports('-b', text, [])),
    inboundPortsExclude: ports('-d', values['istio-local-exclude-ports'], defaults.inboundPortsExclude),
    outboundRangesInclude: wildcardOr(values['istio-service-cidr'], defaults.outboundRangesInclude, split),
    outboundRangesExclude: list(values['istio-service-exclude-cidr'], defaults.outboundRangesExclude),
    outboundPortsInclude: ports('-q', values['istio-outbound-ports'], defaults.outboundPortsInclude),
    outboundPortsExclude: ports('-o', values['istio-local-outbound-ports-exclude'], defaults.outboundPortsExclude),
    virtualInterfaces: list(values['kube-virt-interfaces'], defaults.virtualInterfaces),
    excludeInterfaces: list(values['istio-exclude-interfaces'], defaults.excludeInterfaces),
    tproxyMark: numeric('-t', values['istio-inbound-tproxy-mark'], defaults.tproxyMark),
    tproxyRouteTable: numeric('-r', values['istio-inbound-tproxy-route-table'], defaults.tproxyRouteTable),
    dropInvalid: values['drop-invalid'] ?? defaults.dropInvalid,
    ipv6: values.ipv6 ?? defaults.ipv6,
  };
  const cleanup = values.cleanup === true || values['cleanup-only'] === true;
  if (cleanup && values['dry-run'] === true) throw new SidecarUsageError('--dry-run and --cleanup exclude each other');
  return {
    options,
    action: cleanup ? 'cleanup' : values['dry-run'] === true ? 'dry-run' : 'apply',
    ...(values['network-namespace'] !== undefined ? { networkNamespace: values['network-namespace'] } : {}),
  };
}

/** Runs `weir sidecar <subcommand>`; returns what to print on stdout. */
export function runSidecarCommand(args: readonly string[]): string {
  const [subcommand, ...rest] = args;
  if (subcommand !== 'iptables') throw new SidecarUsageError(`unknown sidecar subcommand "${subcommand ?? ''}"; use "weir sidecar iptables"`);
  const command = sidecarIptablesFrom(rest);
  let ruleSet;
  try {
    ruleSet = ownedCaptureRules(buildCaptureRules(command.options));
  } catch (error) {
    throw new SidecarUsageError(error instanceof Error ? error.message : String(error));
  }
  if (command.action === 'dry-run') return dryRunText(ruleSet);
  const run = namespaceRunner(command.networkNamespace);
  const changes = command.action === 'cleanup' ? removeCapture(ruleSet, run) : applyCapture(ruleSet, run);
  return changes.map(describeCaptureChange).join('\n') + '\n';
}

export function describeCaptureChange(change: CaptureChange): string {
  const family = change.family === 'ipv4' ? 'IPv4' : 'IPv6';
  switch (change.outcome) {
    case 'installed':
      return `${family}: capture rules installed`;
    case 'reconciled':
      return `${family}: earlier ISTIO_* rules replaced by these capture rules`;
    case 'unchanged':
      return `${family}: capture rules already in place; nothing changed`;
    case 'removed':
      return `${family}: capture rules removed`;
    case 'absent':
      return `${family}: no capture rules to remove`;
  }
}

/** Istio's list syntax: comma-separated, empty entries ignored. */
function split(value: string): string[] {
  return value.split(',').map((entry) => entry.trim()).filter((entry) => entry !== '');
}
