// The demos inside docker-compose (`npm run demo -- NAME --compose`, the `demo` service of each
// docker-compose*.yml): instead of starting the server, `weir serve` and Envoy as processes, the
// script attaches to the services compose runs. The compose file says where they are in the demo
// service's environment; the demo container shares Envoy's network namespace, so Envoy's listener
// is on 127.0.0.1 there and each client can still send from its own 127.x address, as it does when
// the demo runs as processes.
import { acceptsConnections } from './servers/loopback-port.ts';
import { waitForAgent, type DemoDeployment } from './guarded-server.ts';
import { runWeirCli, type CliRun } from './weir-process.ts';
import { SIDECAR_PORTS } from '../server/xds/sidecar-snapshot.ts';

/** What the compose file passes to the demo service. */
export interface ComposeServices {
  /** The node id of the Envoy whose agent must enforce policy before the script starts. */
  nodeId: string;
  /** Envoy's listener for the demo's parser, on 127.0.0.1 of the shared network namespace. */
  proxyPort: number;
  /** The real server's service name and port. */
  backend: { host: string; port: number };
  /** weir serve's API socket, on a volume both containers mount. */
  apiSocket: string;
}

export function composeServices(env: NodeJS.ProcessEnv = process.env): ComposeServices {
  const missing: string[] = [];
  const text = (name: string): string => {
    const value = env[name];
    if (value === undefined || value === '') missing.push(name);
    return value ?? '';
  };
  const port = (name: string): number => {
    const value = Number(text(name));
    if (!Number.isInteger(value) || value < 1 || value > 65535) missing.push(`${name} (a port, got ${JSON.stringify(env[name] ?? '')})`);
    return value;
  };
  const services = {
    nodeId: text('WEIR_NODE_ID'),
    proxyPort: port('PROXY_PORT'),
    backend: { host: text('BACKEND_HOST'), port: port('BACKEND_PORT') },
    apiSocket: text('WEIR_SOCKET'),
  };
  if (missing.length > 0) {
    throw new Error(`--compose attaches to the services of a docker-compose*.yml, which sets ${[...new Set(missing)].join(', ')} for the demo service; run it with \`docker compose up\` (see README.md)`);
  }
  return services;
}

/** How long the script waits for Envoy's agent and listener: compose starts them beside it. */
const ATTACH_TIMEOUT_SECONDS = 60;

/** Waits until Envoy's agent enforces the store's policy and its listener accepts connections. */
export async function attachComposeDeployment(options: { say: (line: string) => void }): Promise<DemoDeployment> {
  const services = composeServices();
  const weir = (args: readonly string[]): Promise<CliRun> => runWeirCli(args, { socket: services.apiSocket });
  await waitForAgent(weir, services.nodeId, 'the weir-server service\'s log (docker compose logs weir-server)', ATTACH_TIMEOUT_SECONDS);
  await waitForListener(services.proxyPort);
  options.say(`attached          weir serve (API ${services.apiSocket}), Envoy ${services.nodeId} (listener 127.0.0.1:${services.proxyPort}), ${services.backend.host}:${services.backend.port}`);
  return {
    proxyPort: services.proxyPort,
    backend: services.backend,
    apiSocket: services.apiSocket,
    weir,
    // compose owns the services; `docker compose down` stops them.
    stop: async () => undefined,
  };
}

/** Envoy gets its listener over LDS, possibly after the agent's first ACK: wait until it accepts. */
export async function waitForListener(port: number): Promise<void> {
  const deadline = Date.now() + ATTACH_TIMEOUT_SECONDS * 1000;
  while (!(await acceptsConnections(port))) {
    if (Date.now() > deadline) throw new Error(`Envoy's listener 127.0.0.1:${port} did not accept connections within ${ATTACH_TIMEOUT_SECONDS} s; see docker compose logs envoy`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}


/**
 * What docker-compose.fleet-sidecar.yml passes to the demo service: the server behind its sidecar,
 * reached at its own address and port (Envoy intercepts there), and the interface the clients take
 * their addresses on. Undefined when the compose file runs Envoy as a proxy instead (no
 * SIDECAR_SERVER_HOST).
 */
export interface ComposeSidecarServices {
  nodeId: string;
  server: { host: string; port: number };
  apiSocket: string;
  /** The demo container's interface, where each client adds the address it sends from. */
  clientInterface: string;
}

export function composeSidecarServices(env: NodeJS.ProcessEnv = process.env): ComposeSidecarServices | undefined {
  if (env.SIDECAR_SERVER_HOST === undefined) return undefined;
  const port = Number(env.SIDECAR_SERVER_PORT);
  const missing = [
    ...['WEIR_NODE_ID', 'WEIR_SOCKET', 'SIDECAR_SERVER_HOST', 'SHIP_INTERFACE'].filter((name) => (env[name] ?? '') === ''),
    ...(Number.isInteger(port) && port >= 1 && port <= 65535 ? [] : [`SIDECAR_SERVER_PORT (a port, got ${JSON.stringify(env.SIDECAR_SERVER_PORT ?? '')})`]),
  ];
  if (missing.length > 0) throw new Error(`the sidecar compose file sets ${missing.join(', ')} for the demo service; run it with \`docker compose -f docker-compose.fleet-sidecar.yml up\` (see README.md)`);
  return { nodeId: env.WEIR_NODE_ID ?? '', server: { host: env.SIDECAR_SERVER_HOST, port }, apiSocket: env.WEIR_SOCKET ?? '', clientInterface: env.SHIP_INTERFACE ?? '' };
}

/**
 * Waits until the sidecar's agent enforces the store's policy and the sidecar is ready (Istio's
 * readiness port 15021, which the capture rules leave alone, answers 200 once Envoy has its
 * listeners).
 */
export async function attachComposeSidecar(services: ComposeSidecarServices, options: { say: (line: string) => void }): Promise<{ weir: (args: readonly string[]) => Promise<CliRun> }> {
  const weir = (args: readonly string[]): Promise<CliRun> => runWeirCli(args, { socket: services.apiSocket });
  await waitForAgent(weir, services.nodeId, 'the weir-server service\'s log (docker compose logs weir-server)', ATTACH_TIMEOUT_SECONDS);
  const ready = `http://${services.server.host}:${SIDECAR_PORTS.readiness}/healthz/ready`;
  const deadline = Date.now() + ATTACH_TIMEOUT_SECONDS * 1000;
  while ((await fetch(ready).then((reply) => reply.status, () => 0)) !== 200) {
    if (Date.now() > deadline) throw new Error(`the sidecar's readiness ${ready} did not answer 200 within ${ATTACH_TIMEOUT_SECONDS} s; see docker compose logs envoy`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  options.say(`attached          weir serve (API ${services.apiSocket}), the sidecar ${services.nodeId} (ready on ${ready}), the server at its own address ${services.server.host}:${services.server.port}`);
  return { weir };
}
