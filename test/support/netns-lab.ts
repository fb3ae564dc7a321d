// A small network made of Linux network namespaces for the interception tests: a "node" namespace
// that routes between workload namespaces, each joined to it by a veth pair, with addresses from
// 198.18.0.0/15 (RFC 2544's benchmarking range) assigned inside these namespaces only; no route
// leads anywhere else and the host's namespace is never touched. Names carry the test process's
// pid, and remove() deletes every namespace (and with it every veth, rule and route in it) and
// stops every process started in one, by name and pid, also after a failure. Needs root, `ip`
// and iptables: labPrerequisites() says which is missing.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';

export interface Workload {
  /** The namespace's name. */
  ns: string;
  /** Its address on the link to the node. */
  ip: string;
}

export interface Lab {
  node: Workload;
  workloads: Record<string, Workload>;
  /** Runs a command in a namespace to completion. */
  exec(ns: string, command: string, args: readonly string[], options?: { input?: string; uid?: number; timeoutMs?: number }): { status: number | null; stdout: string; stderr: string };
  /** Starts a long-running process in a namespace; remove() stops it. */
  spawn(ns: string, command: string, args: readonly string[], options?: { uid?: number }): ChildProcess;
  /** The `ip netns exec NS [setpriv ...]` prefix, for helpers that spawn themselves. */
  launcher(ns: string, uid?: number): string[];
  remove(): Promise<void>;
}

/** Why the lab cannot be built here, or undefined when it can. */
export function labPrerequisites(): string | undefined {
  if (process.getuid?.() !== 0) return 'needs root: it creates network namespaces, veth pairs and iptables rules (CI runs as root)';
  for (const program of ['/usr/sbin/ip', '/usr/sbin/iptables', '/usr/bin/nc', '/usr/bin/setpriv', '/usr/bin/curl']) {
    if (!fs.existsSync(program)) return `needs ${program} (npm run setup installs iptables, iproute2 and netcat-openbsd)`;
  }
  return undefined;
}

/** The first two octets every lab address starts with. */
const PREFIX = '198.18';

/**
 * Creates the node namespace and one namespace per workload name, workload i on subnet
 * 198.18.(i+1).0/24 (node .1, workload .2), with a default route through the node, which forwards.
 */
export function createLab(workloadNames: readonly string[]): Lab {
  const tag = `${process.pid}`;
  const nodeNs = `weir-node-${tag}`;
  const created: string[] = [];
  const processes = new Set<ChildProcess>();
  const ip = (args: readonly string[]): void => {
    const result = spawnSync('ip', args, { encoding: 'utf8' });
    if (result.status !== 0) throw new Error(`ip ${args.join(' ')} failed: ${result.stderr.trim()}`);
  };
  const launcher = (ns: string, uid?: number): string[] => ['ip', 'netns', 'exec', ns, ...(uid === undefined ? [] : ['setpriv', `--reuid=${uid}`, `--regid=${uid}`, '--clear-groups'])];
  const lab: Lab = {
    node: { ns: nodeNs, ip: '' },
    workloads: {},
    exec: (ns, command, args, options = {}) => {
      const [program, ...rest] = [...launcher(ns, options.uid), command, ...args] as [string, ...string[]];
      const result = spawnSync(program, rest, { encoding: 'utf8', input: options.input ?? '', timeout: options.timeoutMs ?? 30_000 });
      return { status: result.status, stdout: result.stdout ?? '', stderr: result.stderr ?? '' };
    },
    spawn: (ns, command, args, options = {}) => {
      const [program, ...rest] = [...launcher(ns, options.uid), command, ...args] as [string, ...string[]];
      const child = spawn(program, rest, { stdio: ['pipe', 'pipe', 'pipe'] });
      processes.add(child);
      child.once('exit', () => processes.delete(child));
      return child;
    },
    launcher,
    remove: async () => {
      for (const child of processes) child.kill('SIGKILL');
      await Promise.all([...processes].map((child) => new Promise((resolve) => (child.exitCode !== null || child.signalCode !== null ? resolve(undefined) : child.once('exit', resolve)))));
      for (const ns of created.reverse()) spawnSync('ip', ['netns', 'del', ns]);
    },
  };
  process.once('exit', () => {
    for (const ns of created) spawnSync('ip', ['netns', 'del', ns]);
  });
  try {
    ip(['netns', 'add', nodeNs]);
    created.push(nodeNs);
    ip(['-n', nodeNs, 'link', 'set', 'lo', 'up']);
    lab.exec(nodeNs, 'sysctl', ['-q', '-w', 'net.ipv4.ip_forward=1']);
    workloadNames.forEach((name, index) => {
      const ns = `weir-${name}-${tag}`;
      const subnet = `${PREFIX}.${index + 1}`;
      ip(['netns', 'add', ns]);
      created.push(ns);
      ip(['-n', ns, 'link', 'set', 'lo', 'up']);
      const nodeSide = `wv${index}-${tag}`.slice(0, 15);
      ip(['-n', nodeNs, 'link', 'add', nodeSide, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns]);
      ip(['-n', nodeNs, 'addr', 'add', `${subnet}.1/24`, 'dev', nodeSide]);
      ip(['-n', nodeNs, 'link', 'set', nodeSide, 'up']);
      ip(['-n', ns, 'addr', 'add', `${subnet}.2/24`, 'dev', 'eth0']);
      ip(['-n', ns, 'link', 'set', 'eth0', 'up']);
      ip(['-n', ns, 'route', 'add', 'default', 'via', `${subnet}.1`]);
      lab.workloads[name] = { ns, ip: `${subnet}.2` };
    });
  } catch (error) {
    void lab.remove();
    throw error;
  }
  return lab;
}

/** The node's address on the link of a workload (its default gateway). */
export function gatewayOf(workload: Workload): string {
  return workload.ip.replace(/\.2$/, '.1');
}
