// The processes of the fleet demo, started the way a user would start them: a Debian memcached,
// then `weir serve` guarding the `memcd-server` endpoint with the memcache parser and an Envoy from
// `weir bootstrap` with the Weir agent (demo/guarded-server.ts). Every port is a free one, so the
// demo never collides with the r2d2 demo or a test. The scripted steps live in scenario.ts, the
// ships in ships.ts.
import path from 'node:path';
import { projectRoot } from '../servers/project-paths.ts';
import { attachComposeDeployment } from '../compose-services.ts';
import { prepareStateDir, startGuardedServer, type DemoDeployment } from '../guarded-server.ts';
import { say } from '../outcome-log.ts';
import { startMemcached } from '../servers/memcached.ts';

export const FLEET_DEMO = {
  stateDir: path.join(projectRoot, '.weir', 'demo-fleet'),
  nodeId: 'weir-fleet',
  serverEndpoint: 'memcd-server',
  parser: 'memcache',
  /** The port the guide's policies name: the redirect's endpointPort (memcached itself listens on a free port). */
  guidePort: 11211,
} as const;

export type FleetDeployment = DemoDeployment;

export async function deployFleet(options: { endpointsFile: string }): Promise<FleetDeployment> {
  prepareStateDir({ stateDir: FLEET_DEMO.stateDir, endpointsFile: options.endpointsFile });
  const memcached = await startMemcached();
  say(`memcached         pid ${memcached.pid}, 127.0.0.1:${memcached.port}, guarded as endpoint memcd-server port ${FLEET_DEMO.guidePort} (the port the guide's policies name)`);
  try {
    const guarded = await startGuardedServer({ ...FLEET_DEMO, backendPort: memcached.port });
    return {
      ...guarded,
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

/** The same deployment as docker-compose.fleet.yml runs it: memcached, weir serve and Envoy are services. */
export function attachFleet(): Promise<FleetDeployment> {
  return attachComposeDeployment({ say });
}
