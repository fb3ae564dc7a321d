// Builds kube-apiserver, kubectl (k8s.io/kubernetes v1.37.2) and etcd (3.7.4) from the Go module
// proxy with the installed Go, through the wrapper modules beside this file (go-kubernetes/ pins
// kubernetes' staging modules to their published v0.37.2; go-etcd/ takes etcd's server module).
// Binaries go to .weir/kube/bin; a stamp beside each records the wrapper's go.mod/go.sum and the
// flags, and a build whose stamp matches is skipped. The Go build cache is Go's default, so a
// second checkout on the same machine rebuilds in seconds. Starting them is etcd.ts's and
// kube-apiserver.ts's job.
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { weirStateDir } from '../project-paths.ts';
import { goBinary, goVersion, readStamp } from '../go-toolchain.ts';
import { runInstallCommand, sayOnConsole, type SetupReporter } from '../setup-report.ts';

export const KUBERNETES_VERSION = 'v1.37.2';
export const ETCD_VERSION = 'v3.7.4';

export type KubeBinaryName = 'kube-apiserver' | 'kubectl' | 'etcd';

interface KubeBinary {
  /** The wrapper module folder beside this file. */
  module: string;
  package: string;
  ldflags: string;
  /** What a cold build costs, for the message before it starts. */
  coldCost: string;
}

// kubectl refuses a server version it cannot parse, and the module build leaves it empty unless set.
const KUBERNETES_VERSION_FLAGS = ['k8s.io/component-base/version', 'k8s.io/client-go/pkg/version']
  .flatMap((pkg) => [`-X ${pkg}.gitVersion=${KUBERNETES_VERSION}`, `-X ${pkg}.gitMajor=1`, `-X ${pkg}.gitMinor=37`])
  .join(' ');

const BINARIES: Record<KubeBinaryName, KubeBinary> = {
  'kube-apiserver': { module: 'go-kubernetes', package: 'k8s.io/kubernetes/cmd/kube-apiserver', ldflags: `-s -w ${KUBERNETES_VERSION_FLAGS}`, coldCost: 'about 15-30 minutes and 2.5 GB of memory on 2 cores' },
  kubectl: { module: 'go-kubernetes', package: 'k8s.io/kubernetes/cmd/kubectl', ldflags: `-s -w ${KUBERNETES_VERSION_FLAGS}`, coldCost: 'a few minutes once kube-apiserver is built' },
  etcd: { module: 'go-etcd', package: 'go.etcd.io/etcd/server/v3', ldflags: '-s -w', coldCost: 'about 2-5 minutes' },
};

const here = path.dirname(fileURLToPath(import.meta.url));

export function kubeBinDir(): string {
  return path.join(weirStateDir, 'kube', 'bin');
}

/** Where a binary is once installKubeBinaries() built it. */
export function kubeBinary(name: KubeBinaryName): string {
  return path.join(kubeBinDir(), name);
}

/** The binary's path, or an error that says how to build it. */
export function requireKubeBinary(name: KubeBinaryName): string {
  const file = kubeBinary(name);
  if (!fs.existsSync(file)) throw new Error(`${file} is missing; build it with \`npm run setup -- --for test:servers\` (npm test runs it; it builds ${name} from the Go module proxy)`);
  return file;
}

export interface InstallKubeBinariesOptions {
  binaries: readonly KubeBinaryName[];
  say?: SetupReporter;
}

/**
 * Builds each binary whose stamp is missing or out of date; says what it does and how long it took.
 * Binaries of one wrapper module are built by one `go build` (kube-apiserver and kubectl): Go
 * schedules their packages together, so kubectl's own packages compile while kube-apiserver links,
 * and the shared ones are checked once.
 */
export function installKubeBinaries(options: InstallKubeBinariesOptions): void {
  const say = options.say ?? sayOnConsole;
  const pending: KubeBinaryName[] = [];
  for (const name of options.binaries) {
    if (fs.existsSync(kubeBinary(name)) && readStamp(`${kubeBinary(name)}.stamp`) === stampOf(BINARIES[name])) say(`${name}: already built (${kubeBinary(name)})`);
    else pending.push(name);
  }
  if (pending.length === 0) return;
  const go = goBinary('kube-apiserver, kubectl and etcd');
  const modules = new Map<string, KubeBinaryName[]>();
  for (const name of pending) modules.set(BINARIES[name].module, [...(modules.get(BINARIES[name].module) ?? []), name]);
  for (const [module, names] of modules) buildTogether(go, module, names, say);
}

function buildTogether(go: string, module: string, names: readonly KubeBinaryName[], say: SetupReporter): void {
  const ldflags = new Set(names.map((name) => BINARIES[name].ldflags));
  if (ldflags.size !== 1) throw new Error(`${module}: binaries built together need the same -ldflags (${names.join(', ')})`);
  fs.mkdirSync(kubeBinDir(), { recursive: true });
  say(`${names.join(' and ')}: building ${names.map((name) => BINARIES[name].package).join(' ')} with ${goVersion(go)} (cold: ${names.map((name) => `${name} ${BINARIES[name].coldCost}`).join('; ')}; Go's build cache makes the next build fast)`);
  const started = Date.now();
  // One package: -o names the file; several: -o names a directory, each binary named after its package.
  const partial = fs.mkdtempSync(path.join(kubeBinDir(), '.partial-'));
  try {
    const output = names.length === 1 ? path.join(partial, names[0] as string) : `${partial}${path.sep}`;
    runInstallCommand({
      command: go,
      args: ['build', '-trimpath', '-ldflags', [...ldflags][0] as string, '-o', output, ...names.map((name) => BINARIES[name].package)],
      cwd: path.join(here, module),
      remedy: 'Check that the Go module proxy is reachable (go env GOPROXY) and that there is memory to spare (kube-apiserver needs about 2.5 GB), then run the set-up again.',
      env: { ...process.env, GOTOOLCHAIN: 'local', GOFLAGS: '-mod=readonly' },
    });
    for (const name of names) {
      fs.renameSync(path.join(partial, name), kubeBinary(name));
      fs.writeFileSync(`${kubeBinary(name)}.stamp`, stampOf(BINARIES[name]));
    }
  } finally {
    fs.rmSync(partial, { recursive: true, force: true });
  }
  const sizes = names.map((name) => `${name} ${(fs.statSync(kubeBinary(name)).size / 1e6).toFixed(0)} MB`).join(', ');
  say(`${names.join(' and ')}: built in ${((Date.now() - started) / 1000).toFixed(0)} s (${sizes})`);
}

function stampOf(binary: KubeBinary): string {
  const hash = createHash('sha256');
  for (const file of ['go.mod', 'go.sum']) hash.update(fs.readFileSync(path.join(here, binary.module, file)));
  hash.update(`${binary.package}\n${binary.ldflags}\n`);
  return hash.digest('hex');
}



