// Runs a repository compose file the way a user does (`up --build --exit-code-from demo`) on the
// test's own engine, through an override file that changes only what this machine forces: the
// official images become their local stand-ins (local-images.ts), Weir's Dockerfile builds on the
// local node image, and, on an engine in the host's network namespace (no bridge there), every
// service uses host networking with the other service names as host entries for 127.0.0.1. The
// ports and the listen address are the compose file's own variables, set to free loopback ports
// for the run. On an engine in a network namespace of its own (the sidecar file: its capture rules
// must not reach the host's netfilter) the file keeps its own networks. `down` removes the run's
// containers, networks and volumes; the images stay as the cache.
import fs from 'node:fs';
import path from 'node:path';
import { parse, parseDocument, stringify } from 'yaml';
import { projectRoot } from '../../demo/servers/project-paths.ts';
import { freeLoopbackPort } from '../../demo/servers/loopback-port.ts';
import type { CommandRun, DockerEngine } from './docker-engine.ts';
import { DOCKER_DIR } from './docker-install.ts';
import { NODE_IMAGE_ARG, OFFICIAL_TO_LOCAL } from './local-images.ts';

export interface ComposeService {
  image?: string;
  build?: string | { context?: string; target?: string; args?: Record<string, string>; network?: string };
  pull_policy?: string;
  command?: string[];
  environment?: Record<string, string>;
  network_mode?: string;
  extra_hosts?: string[];
  depends_on?: Record<string, { condition: string }>;
  volumes?: string[];
  ports?: string[];
  healthcheck?: { test: string[] };
  cap_add?: string[];
  user?: string;
  networks?: Record<string, { ipv4_address?: string } | null>;
}

export interface ComposeFile {
  name?: string;
  services: Record<string, ComposeService>;
  volumes?: Record<string, unknown>;
  networks?: Record<string, { ipam?: { config?: Array<{ subnet?: string; ip_range?: string }> } }>;
}

export function readComposeFile(file: string): ComposeFile {
  return parse(fs.readFileSync(path.join(projectRoot, file), 'utf8')) as ComposeFile;
}

/**
 * The override for `file`: local images and, unless the engine has a network namespace of its own
 * (`hostNetwork: false`), host networking and host entries; nothing else.
 */
export function localOverride(compose: ComposeFile, options: { hostNetwork: boolean }): ComposeFile {
  const names = Object.keys(compose.services);
  const services: Record<string, ComposeService> = {};
  for (const [name, service] of Object.entries(compose.services)) {
    const override: ComposeService = options.hostNetwork ? { network_mode: 'host', extra_hosts: names.map((other) => `${other}:127.0.0.1`) } : {};
    const builtHere = Object.values(compose.services).some((other) => other.build !== undefined && other.image === service.image);
    if (service.image !== undefined && !builtHere) {
      const local = OFFICIAL_TO_LOCAL[service.image];
      if (local === undefined) throw new Error(`service ${name} runs ${service.image}, which has no local stand-in in test/compose/local-images.ts`);
      override.image = local;
    }
    if (service.build !== undefined) override.build = { args: { [NODE_IMAGE_ARG]: localNodeImage() }, network: 'host' };
    services[name] = override;
  }
  return { services };
}

function localNodeImage(): string {
  const local = OFFICIAL_TO_LOCAL['node:20-bookworm-slim'];
  if (local === undefined) throw new Error('local-images.ts has no stand-in for node:20-bookworm-slim, the Dockerfile\'s default NODE_IMAGE');
  return local;
}

/**
 * The variables the compose files take their ports from, each a free port on 127.0.0.1, except
 * Envoy's admin port: 0 lets Envoy pick one (nothing in the demos reads it).
 */
export async function freePortVariables(): Promise<Record<string, string>> {
  const names = ['XDS_PORT', 'PROXY_PORT', 'BACKEND_PORT', 'CASSANDRA_STORAGE_PORT'];
  const ports = new Set<number>();
  while (ports.size < names.length) ports.add(await freeLoopbackPort());
  const values = [...ports];
  return { BIND_ADDRESS: '127.0.0.1', ENVOY_ADMIN_PORT: '0', ...Object.fromEntries(names.map((name, index) => [name, String(values[index])])) };
}

export interface ComposeTool {
  /** For messages: "Compose v2.40.3". */
  name: string;
  /** The program and the arguments before the subcommand. */
  command: string;
  /**
   * Compose 1.29 refuses to create a container with published `ports` and host networking ("host"
   * network_mode is incompatible with port_bindings), where Compose v2 discards the ports with a
   * warning; an override cannot remove them (1.29 concatenates `ports` lists). For such a tool the
   * run's file is a copy without the `ports` of the services the override puts on the host network
   * (all of them), which is what Compose v2 does with them.
   */
  refusesPortsWithHostNetwork?: boolean;
}

export interface DemoRun {
  up: CommandRun;
  logFile: string;
}

/** A run's compose command, bound to its files, project and log; `engine` runs it. */
interface ComposeRun {
  compose(engine: DockerEngine, args: string[], env?: NodeJS.ProcessEnv): Promise<CommandRun>;
  down(engine: DockerEngine): Promise<CommandRun>;
  /** `up --build --exit-code-from demo` (`... demo` for a file with a one-shot service), as the docs say. */
  up(engine: DockerEngine, env?: NodeJS.ProcessEnv): Promise<CommandRun>;
  logFile: string;
}

/** `logFile`: the run's log, started afresh; default .weir/docker/runs/<project>.log. */
function composeRun(tool: ComposeTool, file: string, project: string, options: { hostNetwork: boolean; logFile?: string }): ComposeRun {
  const runsDir = path.join(DOCKER_DIR, 'runs');
  fs.mkdirSync(runsDir, { recursive: true });
  const overrideFile = path.join(runsDir, `${project}.override.yml`);
  fs.writeFileSync(overrideFile, stringify(localOverride(readComposeFile(file), { hostNetwork: options.hostNetwork })));
  const composeFile = tool.refusesPortsWithHostNetwork === true && options.hostNetwork ? withoutPublishedPorts(file, path.join(runsDir, `${project}.compose.yml`)) : path.join(projectRoot, file);
  const logFile = options.logFile ?? path.join(runsDir, `${project}.log`);
  fs.writeFileSync(logFile, `# ${tool.name}: ${path.relative(projectRoot, composeFile)} with ${path.relative(projectRoot, overrideFile)}\n`);
  // The classic builder for both Compose versions: Compose v2 builds with BuildKit only through
  // buildx 0.17+, which Debian's docker.io lacks (Docker 20.10's own `docker build` has BuildKit).
  const builderEnv: NodeJS.ProcessEnv = { COMPOSE_DOCKER_CLI_BUILD: '0', DOCKER_BUILDKIT: '0' };
  // Each command's duration goes into the log: where a run's minutes went.
  const compose = async (engine: DockerEngine, args: string[], env: NodeJS.ProcessEnv = {}): Promise<CommandRun> => {
    const started = Date.now();
    const result = await engine.run(tool.command, ['--project-directory', projectRoot, '-p', project, '-f', composeFile, '-f', overrideFile, ...args], { env: { ...builderEnv, ...env }, logFile });
    fs.appendFileSync(logFile, `# ${args[0] ?? ''}: exit ${result.code ?? 'none'} after ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
    return result;
  };
  return {
    compose,
    logFile,
    down: (engine) => compose(engine, ['down', '--volumes', '--remove-orphans', '--timeout', '10']),
    up: async (engine, env = {}) => {
      const oneShots = oneShotServices(readComposeFile(file));
      if (oneShots.length === 0) return compose(engine, ['up', '--build', '--exit-code-from', 'demo'], env);
      // --exit-code-from implies --abort-on-container-exit: Compose 1.29 and v2 stop every service
      // when any attached one exits, so a one-shot init service would end the run as it completes
      // (docker/compose#13800). Named, `up` starts demo with everything it depends on and attaches
      // to demo alone; the other services' output follows from `logs`.
      fs.appendFileSync(logFile, `# ${tool.name} would stop the run when ${oneShots.join(', ')} completes: up demo, then logs\n`);
      const up = await compose(engine, ['up', '--build', '--exit-code-from', 'demo', 'demo'], env);
      const logs = await compose(engine, ['logs', '--no-color'], env);
      return { ...up, output: `${up.output}\n${logs.output}` };
    },
  };
}

/** Services others wait for with `condition: service_completed_successfully` (init containers). */
export function oneShotServices(compose: ComposeFile): string[] {
  const names = new Set<string>();
  for (const service of Object.values(compose.services)) {
    for (const [name, dependency] of Object.entries(service.depends_on ?? {})) if (dependency.condition === 'service_completed_successfully') names.add(name);
  }
  return [...names];
}

/**
 * `compose build` of each file, in turn, on `engine` (in the host's network namespace, where the
 * builds reach their package registries), with the override its run uses; the output goes to
 * .weir/docker/runs/<project>.build.log. Run before the demos, beside the stand-ins that only they
 * need, so that a cold run's image builds overlap (the Weir image's build is mostly CPU, the
 * stand-ins' mostly downloads); each run's own `up --build` then finds every step cached.
 */
export async function buildComposeImages(engine: DockerEngine, tool: ComposeTool, runs: ReadonlyArray<{ file: string; project: string; hostNetwork: boolean }>): Promise<void> {
  for (const { file, project, hostNetwork } of runs) {
    const run = composeRun(tool, file, project, { hostNetwork, logFile: path.join(DOCKER_DIR, 'runs', `${project}.build.log`) });
    const build = await run.compose(engine, ['build']);
    if (build.code !== 0) throw new Error(`${tool.name} build of ${file} exited with ${build.code}; its output is in ${run.logFile}:\n${build.output.split('\n').slice(-40).join('\n')}`);
  }
}

/**
 * `compose -p PROJECT -f FILE -f OVERRIDE up --build --exit-code-from demo` on an engine in the
 * host's network namespace, with host networking, with `down -v` before (what a killed run left)
 * and after, whatever happened. `build` runs first, so that the ports, picked free just before
 * `up`, are not left unused for the minutes a cold build takes (other tests on this machine take
 * ports too). The output goes to .weir/docker/runs/<project>.log.
 */
export async function runComposeDemo(engine: DockerEngine, tool: ComposeTool, file: string, project: string): Promise<DemoRun> {
  const run = composeRun(tool, file, project, { hostNetwork: true });
  // A run killed before its own `down` leaves this project's containers and volumes (old
  // credentials among them) in the engine's data: remove them by the project's name first.
  await run.down(engine);
  try {
    const build = await run.compose(engine, ['build']);
    if (build.code !== 0) return { up: build, logFile: run.logFile };
    const ports = await freePortVariables();
    fs.appendFileSync(run.logFile, `# ${Object.entries(ports).map(([key, value]) => `${key}=${value}`).join(' ')}\n`);
    return { up: await run.up(engine, ports), logFile: run.logFile };
  } finally {
    await run.down(engine);
  }
}

/**
 * The same for a file whose services must keep their own networks (the sidecar file: its capture
 * rules go into the pod's network namespace, which host networking would make the host's): `build`
 * on `engine`, in the host's network namespace, where the builds reach their package registries;
 * then `engine` stops and an engine in a network namespace of its own (docker-engine.ts) brings the
 * file up unchanged but for the images, its builds cached, and is stopped after `down`.
 */
export async function runIsolatedComposeDemo(engine: DockerEngine, startIsolatedEngine: () => Promise<DockerEngine>, tool: ComposeTool, file: string, project: string): Promise<DemoRun> {
  const run = composeRun(tool, file, project, { hostNetwork: false });
  const build = await run.compose(engine, ['build']);
  await engine.stop();
  if (build.code !== 0) return { up: build, logFile: run.logFile };
  const isolated = await startIsolatedEngine();
  try {
    await run.down(isolated);
    try {
      return { up: await run.up(isolated), logFile: run.logFile };
    } finally {
      await run.down(isolated);
    }
  } finally {
    await isolated.stop();
  }
}

/**
 * `file` without the services' `ports`, written to `target` (comments, order and variables as they
 * are; relative paths still resolve against the project directory, the repository root).
 */
export function withoutPublishedPorts(file: string, target: string): string {
  const document = parseDocument(fs.readFileSync(path.join(projectRoot, file), 'utf8'));
  for (const name of Object.keys(readComposeFile(file).services)) document.deleteIn(['services', name, 'ports']);
  fs.writeFileSync(target, document.toString());
  return target;
}
