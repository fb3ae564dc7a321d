// Runs a repository compose file the way a user does (`up --build --exit-code-from demo`) on the
// test's own engine, through an override file that changes only what this machine forces: the
// official images become their local stand-ins (local-images.ts), Weir's Dockerfile builds on the
// local node image, and every service uses host networking (no bridge here) with the other service
// names as host entries for 127.0.0.1. The ports and the listen address are the compose file's own
// variables, set to free loopback ports for the run. `down` removes the run's containers, networks
// and volumes; the images stay as the cache.
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
}

export interface ComposeFile {
  name?: string;
  services: Record<string, ComposeService>;
  volumes?: Record<string, unknown>;
}

export function readComposeFile(file: string): ComposeFile {
  return parse(fs.readFileSync(path.join(projectRoot, file), 'utf8')) as ComposeFile;
}

/** The override for `file`: local images, host networking, host entries; nothing else. */
export function localOverride(compose: ComposeFile): ComposeFile {
  const names = Object.keys(compose.services);
  const services: Record<string, ComposeService> = {};
  for (const [name, service] of Object.entries(compose.services)) {
    const override: ComposeService = { network_mode: 'host', extra_hosts: names.map((other) => `${other}:127.0.0.1`) };
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

/**
 * `compose -p PROJECT -f FILE -f OVERRIDE up --build --exit-code-from demo`, with `down -v`
 * before (what a killed run left) and after, whatever happened. `build` runs first, so that the ports, picked free just before `up`, are not
 * left unused for the minutes a cold build takes (other tests on this machine take ports too).
 * The output goes to .weir/docker/runs/<project>.log.
 */
export async function runComposeDemo(engine: DockerEngine, tool: ComposeTool, file: string, project: string): Promise<DemoRun> {
  const runsDir = path.join(DOCKER_DIR, 'runs');
  fs.mkdirSync(runsDir, { recursive: true });
  const overrideFile = path.join(runsDir, `${project}.override.yml`);
  fs.writeFileSync(overrideFile, stringify(localOverride(readComposeFile(file))));
  const composeFile = tool.refusesPortsWithHostNetwork === true ? withoutPublishedPorts(file, path.join(runsDir, `${project}.compose.yml`)) : path.join(projectRoot, file);
  const logFile = path.join(runsDir, `${project}.log`);
  fs.writeFileSync(logFile, `# ${tool.name}: ${path.relative(projectRoot, composeFile)} with ${path.relative(projectRoot, overrideFile)}\n`);
  // The engine here has no BuildKit client (no buildx): the classic builder builds the Dockerfile.
  let env: NodeJS.ProcessEnv = { COMPOSE_DOCKER_CLI_BUILD: '0', DOCKER_BUILDKIT: '0' };
  // Each command's duration goes into the log: where a run's minutes went.
  const compose = async (args: string[]): Promise<CommandRun> => {
    const started = Date.now();
    const result = await engine.run(tool.command, ['--project-directory', projectRoot, '-p', project, '-f', composeFile, '-f', overrideFile, ...args], { env, logFile });
    fs.appendFileSync(logFile, `# ${args[0] ?? ''}: exit ${result.code ?? 'none'} after ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
    return result;
  };
  const down = (): Promise<CommandRun> => compose(['down', '--volumes', '--remove-orphans', '--timeout', '10']);
  // A run killed before its own `down` leaves this project's containers and volumes (old
  // credentials among them) in the engine's data: remove them by the project's name first.
  await down();
  try {
    const build = await compose(['build']);
    if (build.code !== 0) return { up: build, logFile };
    env = { ...env, ...(await freePortVariables()) };
    fs.appendFileSync(logFile, `# ${Object.entries(env).map(([key, value]) => `${key}=${value}`).join(' ')}\n`);
    const up = await compose(['up', '--build', '--exit-code-from', 'demo']);
    return { up, logFile };
  } finally {
    await down();
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
