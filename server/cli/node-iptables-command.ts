// `weir node iptables`: the per-node proxy's TPROXY capture rules (server/interception/node-rules.ts)
// in the current network namespace (or --network-namespace), printed with --dry-run, removed with
// --cleanup. The node's Envoy comes from `weir bootstrap --mode node --listener-port PORT`.
import { parseArgs } from 'node:util';
import { applyCapture, dryRunText, namespaceRunner, removeCapture } from '../interception/capture-apply.ts';
import { buildNodeRules, NODE_CAPTURE_DEFAULTS } from '../interception/node-rules.ts';
import { describeCaptureChange, SidecarUsageError } from './sidecar-command.ts';

/** Runs `weir node iptables ARGS` (args after `iptables`); returns what to print on stdout. */
export function runNodeIptablesCommand(rest: readonly string[]): string {
  let values;
  try {
    ({ values } = parseArgs({
      args: [...rest],
      options: {
        port: { type: 'string' },
        'workload-cidr': { type: 'string', multiple: true },
        mark: { type: 'string' },
        table: { type: 'string' },
        'network-namespace': { type: 'string' },
        'dry-run': { type: 'boolean' },
        cleanup: { type: 'boolean' },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    throw new SidecarUsageError(error instanceof Error ? error.message : String(error));
  }
  const port = Number(values.port);
  if (values.port === undefined || !Number.isInteger(port) || port < 1 || port > 65535) throw new SidecarUsageError('weir node iptables needs --port PORT: the listener port of `weir bootstrap --mode node --listener-port`');
  const cidrs = values['workload-cidr'] ?? [];
  if (cidrs.length === 0) throw new SidecarUsageError('weir node iptables needs --workload-cidr CIDR (repeat it): the address ranges of the workloads behind this node');
  for (const cidr of cidrs) if (!/^\d{1,3}(\.\d{1,3}){3}\/\d{1,2}$/.test(cidr)) throw new SidecarUsageError(`--workload-cidr ${cidr}: expected an IPv4 CIDR such as 10.0.1.0/24`);
  for (const [flag, value] of [['--mark', values.mark], ['--table', values.table]] as const) {
    if (value !== undefined && !/^\d+$/.test(value)) throw new SidecarUsageError(`${flag} ${value}: expected a number`);
  }
  if (values['dry-run'] === true && values.cleanup === true) throw new SidecarUsageError('--dry-run and --cleanup exclude each other');
  const rules = buildNodeRules({ port, workloadCidrs: cidrs, mark: values.mark ?? NODE_CAPTURE_DEFAULTS.mark, table: values.table ?? NODE_CAPTURE_DEFAULTS.table });
  if (values['dry-run'] === true) return dryRunText(rules);
  const run = namespaceRunner(values['network-namespace']);
  const changes = values.cleanup === true ? removeCapture(rules, run) : applyCapture(rules, run);
  return changes.map(describeCaptureChange).join('\n') + '\n';
}
