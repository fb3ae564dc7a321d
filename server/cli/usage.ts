// The usage of every `weir` command in one table: what `weir --help` lists, and what
// `weir <command> [<subcommand>] --help` (or -h) prints for one command, with its flags and an
// example. cli.ts answers --help from here before it parses any flag, so every command takes it.

/** One command or subcommand as a person reads it in `--help`. */
export interface CommandUsage {
  /** The words after `weir`, e.g. `policy import`. */
  readonly command: string;
  /** Arguments and flags on one line, after the command words. */
  readonly synopsis: string;
  /** What it does, one or two sentences. */
  readonly summary: string;
  /** Each flag (or argument) and what it means. */
  readonly flags: ReadonlyArray<readonly [flag: string, meaning: string]>;
  /** A command line someone would type. */
  readonly example: string;
  /** Takes the API connection flags (--socket, --server, --token-file, -o). */
  readonly api?: boolean;
}

const API_FLAG_HELP: ReadonlyArray<readonly [string, string]> = [
  ['-o table|json', 'output: a table for people (default) or the API\'s JSON (--json is an alias)'],
  ['--socket PATH', 'the REST API unix socket of weir serve (default .weir/weir.sock; env WEIR_SOCKET)'],
  ['--server URL', 'the REST API over TCP instead, e.g. https://127.0.0.1:18080 (env WEIR_SERVER)'],
  ['--token-file FILE', 'the bearer token for --server (env WEIR_API_TOKEN)'],
  ['--ca-file FILE', 'the CA of the --server certificate, the weir CA <pki dir>/ca.crt (env WEIR_CA_FILE)'],
];

export const COMMAND_USAGES: readonly CommandUsage[] = [
  {
    command: 'serve',
    synopsis: '[--config FILE] [--insecure]',
    summary:
      'Run the xDS control server (mTLS: proxies need a certificate from weir bootstrap) and the REST API. SIGHUP reloads the config file and the parser modules.',
    flags: [
      ['--config FILE', 'the server config (default weir.yaml; docs/cli.md lists its fields)'],
      ['--insecure', 'plaintext xDS, every node id believed (development only; logged, and shown by weir status)'],
    ],
    example: 'weir serve --config weir.yaml',
  },
  {
    command: 'bootstrap',
    synopsis:
      '[--node-id ID] [--cluster C] [--xds HOST:PORT] [--admin-port N] [--delta] [--agent-wasm PATH] [--certs DIR] [--no-enrol | --join-token T | --insecure] ' +
      '[--endpoint-name NAME] [--endpoint-ip IP]... [--label K=V]... [--namespace NS] [--service-account SA] ' +
      '[--mode sidecar|node] [--interception-mode REDIRECT|TPROXY] [--listener-port N]',
    summary:
      'Enrol the node with weir serve (its key made here, its certificate from the server, both in --certs DIR) and print an Envoy bootstrap (YAML) that gets its config and policy over mTLS with them.',
    flags: [
      ['--certs DIR', 'the node\'s credentials directory (default .weir/nodes/ID; key 0600)'],
      ['--no-enrol', 'use the credentials already in DIR; do not ask the server'],
      ['--join-token T', 'enrol with a one-time token from weir node token (a node on another machine; with --server https://HOST:PORT, no admin token)'],
      ['--insecure', 'a plaintext bootstrap, for a weir serve --insecure'],
      ['--node-id ID', 'the proxy\'s node id (default the host name)'],
      ['--cluster C', 'the proxy\'s cluster name'],
      ['--xds HOST:PORT', 'where weir serve\'s xDS listens (default 127.0.0.1:18000)'],
      ['--admin-port N', 'Envoy\'s admin port (default 9901; 0 picks one)'],
      ['--delta', 'use delta xDS instead of state of the world'],
      ['--agent-wasm PATH', 'the Weir agent module (default build/filters/agent.wasm)'],
      ['--endpoint-name NAME', 'register this sidecar\'s endpoint under NAME (default: the node id)'],
      ['--endpoint-ip IP', 'an IP of that endpoint (repeat for several)'],
      ['--label K=V', 'a label of that endpoint (repeat for several)'],
      ['--namespace NS', 'its namespace'],
      ['--service-account SA', 'its service account'],
      ['--mode sidecar|node', 'ask weir serve for Istio\'s sidecar layout (15006/15001/15021/15090; needs the endpoint flags) or the per-node TPROXY listener (docs/sidecar.md)'],
      ['--interception-mode REDIRECT|TPROXY', 'how the capture rules redirect (default REDIRECT for sidecar, TPROXY for node)'],
      ['--listener-port N', '--mode node: the port weir node iptables --port sends captured connections to'],
    ],
    example: 'weir bootstrap --node-id node-1 > envoy.yaml && .venv/bin/envoy -c envoy.yaml',
    api: true,
  },
  {
    command: 'node list',
    synopsis: '',
    summary: 'Enrolled nodes: when each was enrolled or revoked, and its open authenticated streams.',
    flags: [],
    example: 'weir node list',
    api: true,
  },
  {
    command: 'node token',
    synopsis: 'ID [--ttl S]',
    summary: 'Print a one-time join token with which node ID enrols itself from another machine (weir bootstrap --join-token), without the admin token.',
    flags: [
      ['ID', 'the node id the token enrols'],
      ['--ttl S', 'seconds the token stays valid (default 3600, 60 to 604800)'],
    ],
    example: 'weir node token edge-7 --ttl 600',
    api: true,
  },
  {
    command: 'node revoke',
    synopsis: 'ID',
    summary: 'Refuse every certificate of node ID: its streams end now, its renewal is refused. weir bootstrap --node-id ID enrols it again.',
    flags: [['ID', 'the node id']],
    example: 'weir node revoke edge-7',
    api: true,
  },
  {
    command: 'node renew',
    synopsis: '[--certs DIR | --node-id ID] [--xds HOST:PORT] [--watch]',
    summary:
      'On the node: renew the certificate in DIR over the xDS port with the one it holds and a fresh key; Envoy reloads it without a restart.',
    flags: [
      ['--certs DIR', 'the credentials directory (default .weir/nodes/ID)'],
      ['--node-id ID', 'instead of --certs: the directory .weir/nodes/ID'],
      ['--xds HOST:PORT', 'the xDS port (default: the one weir bootstrap recorded in DIR/node.json)'],
      ['--watch', 'keep running: renew at half the certificate\'s lifetime, retry every 10 s on failure'],
    ],
    example: 'weir node renew --certs .weir/nodes/node-1 --watch',
  },
  {
    command: 'sidecar iptables',
    synopsis: '[-p PORT] [-z PORT] [-e PORT] [-u UIDS] [-g GIDS] [-m REDIRECT|TPROXY] [-b PORTS|*] [-d PORTS] [-i CIDRS|*] [-x CIDRS] [-q PORTS] [-o PORTS] [-k NICS] [-c NICS] [-t MARK] [-r TABLE] [--ipv6] [--drop-invalid] [--network-namespace NS] [--dry-run | --cleanup]',
    summary: 'Install Istio\'s sidecar capture rules (istio-iptables\' chains and flags; defaults of Istio\'s injector) in this network namespace. Idempotent; --cleanup removes them.',
    flags: [
      ['-p PORT', 'where outbound TCP goes (virtualOutbound, default 15001)'],
      ['-z PORT', 'where inbound TCP goes (virtualInbound, default 15006)'],
      ['-u UIDS, -g GIDS', 'the proxy\'s uids and gids, never captured (default 1337)'],
      ['-m REDIRECT|TPROXY', 'how inbound connections are captured (default REDIRECT)'],
      ['-b PORTS|*, -d PORTS', 'inbound ports to capture (default *) and to leave alone (default 15090,15021,15020)'],
      ['-i CIDRS|*, -x CIDRS', 'outbound destinations to capture (default *) and to leave alone'],
      ['-q PORTS, -o PORTS', 'outbound ports always captured, never captured'],
      ['--network-namespace NS', 'an `ip netns` name or a path such as /proc/PID/ns/net (default: this one)'],
      ['--dry-run', 'print the iptables-restore input and change nothing'],
      ['--cleanup', 'remove what these flags installed'],
    ],
    example: 'weir sidecar iptables --dry-run',
  },
  {
    command: 'node iptables',
    synopsis: '--port PORT --workload-cidr CIDR... [--mark N] [--table N] [--network-namespace NS] [--dry-run | --cleanup]',
    summary: 'Capture workload TCP for the per-node proxy with TPROXY (client addresses kept), in the node\'s network namespace.',
    flags: [
      ['--port PORT', 'the node Envoy\'s transparent listener (weir bootstrap --mode node --listener-port)'],
      ['--workload-cidr CIDR', 'an address range of the workloads behind this node (repeat for several)'],
      ['--mark N, --table N', 'the TPROXY mark (default 1337) and policy route table (default 133)'],
      ['--dry-run, --cleanup', 'print the rules / remove them'],
    ],
    example: 'weir node iptables --port 15006 --workload-cidr 10.1.0.0/16',
  },
  {
    command: 'policy import',
    synopsis: 'FILE|- [--name FILE.yaml]',
    summary: 'Add or replace a policy file (CiliumNetworkPolicy YAML). All or nothing: a file with any problem changes nothing.',
    flags: [
      ['FILE|-', 'the policy file, or - for standard input'],
      ['--name FILE.yaml', 'the name to store it under (default the file\'s base name)'],
    ],
    example: 'weir policy import examples/policies/memcached-secure-fleet.yaml',
    api: true,
  },
  {
    command: 'policy get',
    synopsis: '[NAME]',
    summary: 'List the policy files, or print the one that holds policy or file NAME.',
    flags: [['NAME', 'a policy name or a stored file name']],
    example: 'weir policy get secure-fleet',
    api: true,
  },
  {
    command: 'policy delete',
    synopsis: 'NAME',
    summary: 'Remove a policy, or a whole policy file.',
    flags: [['NAME', 'a policy name or a stored file name (see weir policy get)']],
    example: 'weir policy delete secure-fleet',
    api: true,
  },
  {
    command: 'policy wait',
    synopsis: '[REVISION] [--timeout S] [--node ID]... [--policy-only]',
    summary:
      'Wait until every connected proxy (and each named one) enforces REVISION: its agent ACKed the policy and its Envoy ACKed its own listeners, clusters and filters. Exit 3 if a proxy rejected it, 4 on timeout.',
    flags: [
      ['REVISION', 'the policy revision (default the one in force)'],
      ['--timeout S', 'give up after S seconds (default 30)'],
      ['--node ID', 'also wait for this proxy to connect and get its listeners and clusters (repeat for several)'],
      ['--policy-only', 'the named proxies get listeners and clusters from another control plane (Istio): wait for their agents only'],
    ],
    example: 'weir policy wait --node node-1 --timeout 60',
    api: true,
  },
  {
    command: 'policy trace',
    synopsis: '--src SOURCE --dst DESTINATION --dport PORT [--l7 \'KEY=VALUE ...\'] [--direction ingress|egress]',
    summary:
      'Say which verdict the policy in force gives a connection and an L7 request, and which rule decided it, without sending traffic (like cilium policy trace).',
    flags: [
      ['--src SOURCE', 'the client: an endpoint name, labels (app=x,k8s:tier=y) or an IP'],
      ['--dst DESTINATION', 'the server: an endpoint name, labels or an IP'],
      ['--dport PORT', 'the destination port'],
      ['--l7 \'KEY=VALUE ...\'', 'the request\'s L7 fields, e.g. \'command=get key=alliance/fleet/x\' (omit for the L3/L4 verdict only)'],
      ['--direction D', 'whose policy to trace: ingress of the destination (default) or egress of the source'],
    ],
    example: 'weir policy trace --src fleet-monitor --dst memcached-server --dport 11211 --l7 \'command=get key=alliance/fleet/x\'',
    api: true,
  },
  {
    command: 'endpoint list',
    synopsis: '',
    summary: 'Endpoints with their identity, IPs, ports (policy port, listener, upstream) and the revision their proxy enforces.',
    flags: [],
    example: 'weir endpoint list',
    api: true,
  },
  {
    command: 'identity list',
    synopsis: '',
    summary: 'Identities with their labels, and the IP -> identity map the proxies get.',
    flags: [],
    example: 'weir identity list -o json',
    api: true,
  },
  {
    command: 'proxy list',
    synopsis: '',
    summary: 'Each proxy: connected or not, the revision it enforces, and the versions sent, ACKed and NACKed per type.',
    flags: [],
    example: 'weir proxy list',
    api: true,
  },
  {
    command: 'monitor',
    synopsis: '[--type l7] [--verdict forwarded|denied|error] [--proto P] [--endpoint k=v[,k=v]] [--node ID] [--last N] [-o json]',
    summary: 'Follow access-log records live, like cilium monitor -t l7. Stop with Ctrl-C.',
    flags: [
      ['--type T', 'only records of type T (l7)'],
      ['--verdict V', 'only forwarded, denied or error records (repeat for several)'],
      ['--proto P', 'only this L7 protocol (memcache, cassandra, r2d2, ...)'],
      ['--endpoint k=v[,k=v]', 'only records of endpoints with these labels'],
      ['--node ID', 'only records from this proxy'],
      ['--last N', 'first print the last N records kept by the server'],
    ],
    example: 'weir monitor --type l7 --verdict denied',
    api: true,
  },
  {
    command: 'metrics list',
    synopsis: '',
    summary: 'Every Prometheus sample of the server\'s /metrics.',
    flags: [],
    example: 'weir metrics list',
    api: true,
  },
  {
    command: 'status',
    synopsis: '',
    summary:
      'Health of the store, xDS, proxies, agents, redirects and the log pipeline, each with what to do. Exit 1 when something fails.',
    flags: [],
    example: 'weir status',
    api: true,
  },
  {
    command: 'parser new',
    synopsis: 'NAME',
    summary: 'Scaffold a parser in filters/parsers/NAME with its test.',
    flags: [['NAME', 'the protocol name (lower case letters, digits and -)']],
    example: 'weir parser new kvline',
  },
  {
    command: 'parser test',
    synopsis: 'NAME SCRIPT',
    summary: 'Build parser NAME and run a byte script through it on the Proxy-Wasm test host, printing ops, bytes and logs.',
    flags: [
      ['NAME', 'a parser under filters/parsers'],
      ['SCRIPT', 'a byte script file (docs/wasm-test-host.md)'],
    ],
    example: 'weir parser test kvline filters/parsers/kvline/example.script',
  },
];

const HELP_FLAGS = new Set(['--help', '-h']);

/** True when the arguments ask for help (`--help` or `-h` anywhere before a `--`). */
export function wantsHelp(argv: readonly string[]): boolean {
  for (const argument of argv) {
    if (argument === '--') return false;
    if (HELP_FLAGS.has(argument)) return true;
  }
  return false;
}

/**
 * The help text for the command the arguments name: one command's full usage, every subcommand of
 * a group (`weir policy --help`), or the overview when the words name no command.
 */
export function helpFor(argv: readonly string[]): string {
  const words = argv.filter((argument) => !argument.startsWith('-'));
  const [first, second] = words;
  const exact = COMMAND_USAGES.find((usage) => usage.command === `${first} ${second}`) ?? COMMAND_USAGES.find((usage) => usage.command === first);
  if (exact) return commandHelp(exact);
  const group = COMMAND_USAGES.filter((usage) => usage.command.split(' ')[0] === first);
  if (group.length > 0) return `${group.map(commandHelp).join('\n\n')}`;
  return overview();
}

/** One command: synopsis, summary, flags, example. */
export function commandHelp(usage: CommandUsage): string {
  const flags = usage.api ? [...usage.flags, ...API_FLAG_HELP] : usage.flags;
  const width = Math.max(0, ...flags.map(([flag]) => flag.length));
  const lines = [`usage: weir ${usage.command}${usage.synopsis === '' ? '' : ` ${usage.synopsis}`}`, '', `  ${usage.summary}`];
  if (flags.length > 0) lines.push('', ...flags.map(([flag, meaning]) => `  ${flag.padEnd(width)}  ${meaning}`));
  lines.push('', `example: ${usage.example}`);
  return lines.join('\n');
}

/** Every command on a line, for `weir --help` and after a usage error. */
export function overview(): string {
  const width = Math.max(...COMMAND_USAGES.map((usage) => usage.command.length));
  return [
    'usage: weir <command> [flags]    (weir <command> --help for its flags and an example)',
    '',
    ...COMMAND_USAGES.map((usage) => `  ${usage.command.padEnd(width)}  ${firstSentence(usage.summary)}`),
    '',
    'API commands talk to a running weir serve: --socket PATH (default .weir/weir.sock) or --server https://HOST:PORT --token-file FILE --ca-file FILE.',
    'Exit status: 0 ok, 1 failed, 2 bad usage, 3 a proxy rejected the policy, 4 waiting timed out.',
  ].join('\n');
}

function firstSentence(text: string): string {
  const end = text.indexOf('. ');
  return end < 0 ? text.replace(/\.$/, '') : text.slice(0, end);
}
