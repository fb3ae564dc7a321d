// The processes of the Empire demo, started the way a user would start them: Cassandra 5 from Maven
// Central, then `weir serve` guarding the `cass-server` endpoint with the cassandra parser and an
// Envoy from `weir bootstrap` with the Weir agent (demo/guarded-server.ts). Every port is a free one.
// The scripted steps live in scenario.ts, the members and their clients in members.ts.
import fs from 'node:fs';
import path from 'node:path';
import { projectRoot } from '../servers/project-paths.ts';
import { attachComposeDeployment } from '../compose-services.ts';
import { prepareStateDir, startGuardedServer, type DemoDeployment } from '../guarded-server.ts';
import { say } from '../outcome-log.ts';
import { installCassandra } from '../servers/cassandra/install.ts';
import { installCqlsh } from '../servers/cassandra/cqlsh.ts';
import { startCassandra } from '../servers/cassandra/runner.ts';

export const EMPIRE_DEMO = {
  stateDir: path.join(projectRoot, '.weir', 'demo-empire'),
  nodeId: 'weir-empire',
  serverEndpoint: 'cass-server',
  parser: 'cassandra',
  /** The port the guide's policy names: the redirect's endpointPort (Cassandra itself listens on a free port). */
  guidePort: 9042,
} as const;

export type EmpireDeployment = DemoDeployment;

const quiet = (): void => undefined;

export async function deployEmpire(options: { endpointsFile: string }): Promise<EmpireDeployment> {
  prepareStateDir({ stateDir: EMPIRE_DEMO.stateDir, endpointsFile: options.endpointsFile });
  const installation = installCassandra({ say: quiet });
  installCqlsh({ say: quiet });
  const cassandra = await startCassandra({ libDir: installation.libDir });
  say(`cassandra ${installation.version}   pid ${cassandra.pid}, 127.0.0.1:${cassandra.nativePort} guarded as endpoint cass-server port ${EMPIRE_DEMO.guidePort} (the port the guide's policies name), up in ${(cassandra.startupMs / 1000).toFixed(1)} s`);
  try {
    const guarded = await startGuardedServer({ ...EMPIRE_DEMO, backendPort: cassandra.nativePort });
    return {
      ...guarded,
      stop: async () => {
        await guarded.stop();
        await cassandra.stop();
      },
    };
  } catch (error) {
    await cassandra.stop();
    throw error;
  }
}

/** The same deployment as docker-compose.empire.yml runs it: Cassandra, weir serve and Envoy are services. */
export function attachEmpire(): Promise<EmpireDeployment> {
  // The script writes the guide's verbatim policy there before importing it.
  fs.mkdirSync(EMPIRE_DEMO.stateDir, { recursive: true });
  return attachComposeDeployment({ say });
}
