// The processes of the fleet demo, started the way a user would start them: a Debian memcached,
// then `weir serve` guarding the `memcd-server` endpoint with the memcache parser and an Envoy from
// `weir bootstrap` with the Weir agent (demo/guarded-server.ts). Every port is a free one, so the
// demo never collides with the r2d2 demo or a test. Or the same deployment as a docker-compose file
// runs it: Envoy as a proxy (docker-compose.fleet.yml) or as memcached's sidecar
// (docker-compose.fleet-sidecar.yml). The scripted steps live in scenario.ts, the ships in ships.ts.
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { projectRoot } from '../servers/project-paths.ts';
import { attachComposeDeployment, attachComposeSidecar, composeSidecarServices } from '../compose-services.ts';
import { prepareStateDir, startGuardedServer, type DemoDeployment } from '../guarded-server.ts';
import { say } from '../outcome-log.ts';
import { startMemcached } from '../servers/memcached.ts';
import type { CliRun } from '../weir-process.ts';
import type { RelayTarget } from './ships.ts';

export const FLEET_DEMO = {
  stateDir: path.join(projectRoot, '.weir', 'demo-fleet'),
  nodeId: 'weir-fleet',
  serverEndpoint: 'memcd-server',
  parser: 'memcache',
  /** The port the guide's policies name: the redirect's endpointPort (memcached itself listens on a free port). */
  guidePort: 11211,
} as const;

const ENDPOINTS_DIR = path.join(projectRoot, 'demo', 'fleet', 'endpoints');

export interface FleetDeployment {
  /** Where the ships connect: Envoy's listener, or memcached's own address when Envoy is its sidecar. */
  target: RelayTarget;
  /** memcached reached past Envoy, or undefined when every connection to it is intercepted (sidecar). */
  backend: { host: string; port: number } | undefined;
  /** The store's endpoints, with the addresses the ships send from here: secure-fleet.yaml, rebel-alliance.yaml. */
  endpointsDir: string;
  /** Readies this machine to send from `address`. */
  takeAddress(address: string): void;
  /** Runs `weir ARGS` against this deployment's weir serve. */
  weir(args: readonly string[]): Promise<CliRun>;
  stop(): Promise<void>;
}

export async function deployFleet(): Promise<FleetDeployment> {
  prepareStateDir({ stateDir: FLEET_DEMO.stateDir, endpointsFile: path.join(ENDPOINTS_DIR, 'secure-fleet.yaml') });
  const memcached = await startMemcached();
  say(`memcached         pid ${memcached.pid}, 127.0.0.1:${memcached.port}, guarded as endpoint memcd-server port ${FLEET_DEMO.guidePort} (the port the guide's policies name)`);
  try {
    const guarded = await startGuardedServer({ ...FLEET_DEMO, backendPort: memcached.port });
    return {
      target: { host: '127.0.0.1', port: guarded.proxyPort },
      backend: guarded.backend,
      endpointsDir: ENDPOINTS_DIR,
      // Loopback addresses: every 127.x is already this machine's.
      takeAddress: () => undefined,
      weir: guarded.weir,
      stop: async () => {
        await guarded.stop();
        await memcached.stop();
      },
    };
  } catch (error) {
    await memcached.stop();
    throw error;
  }
}

/** The same deployment as a docker-compose file runs it: memcached, weir serve and Envoy are services. */
export async function attachFleet(): Promise<FleetDeployment> {
  const sidecar = composeSidecarServices();
  if (sidecar === undefined) {
    const attached = await attachComposeDeployment({ say });
    return {
      target: { host: '127.0.0.1', port: attached.proxyPort },
      backend: attached.backend,
      endpointsDir: ENDPOINTS_DIR,
      takeAddress: () => undefined,
      weir: attached.weir,
      stop: attached.stop,
    };
  }
  const { weir } = await attachComposeSidecar(sidecar, { say });
  return {
    target: sidecar.server,
    backend: undefined,
    endpointsDir: path.join(ENDPOINTS_DIR, 'sidecar'),
    // The ships share the demo container: each adds its address to the container's interface (the
    // compose file grants NET_ADMIN for it), on the network's subnet, so replies come back here.
    takeAddress: (address) => {
      const shown = spawnSync('ip', ['-o', 'address', 'show', 'to', address], { encoding: 'utf8' });
      if (shown.status === 0 && shown.stdout.trim() !== '') return;
      const added = spawnSync('ip', ['address', 'add', `${address}/32`, 'dev', sidecar.clientInterface], { encoding: 'utf8' });
      if (added.status !== 0) throw new Error(`ip address add ${address}/32 dev ${sidecar.clientInterface} failed (${added.error?.message ?? added.stderr.trim()}): the demo service needs iproute2 and NET_ADMIN, as docker-compose.fleet-sidecar.yml gives it`);
    },
    weir,
    stop: async () => undefined,
  };
}
