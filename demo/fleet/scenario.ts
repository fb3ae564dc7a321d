// The Alliance fleet demo (`npm run demo -- fleet [--check]`): Cilium's memcached getting-started
// guide, then the Cilium 1.3 release post's policy, on a real memcached behind a real Envoy with
// Weir. Without policy any ship reads and overwrites any other ship's coordinates; with the guide's
// `secure-fleet` policy each wing reads and writes only its own, the tracker only reads; with the
// post's policy fleet maintenance reads and writes under `alliance/fleet/`, fleet monitoring only
// reads there, a jedi does anything. Each step prints like the guide and records its outcome.
import fs from 'node:fs';
import path from 'node:path';
import memjs from 'memjs';
import { parseAllDocuments } from 'yaml';
import { projectRoot } from '../servers/project-paths.ts';
import { OutcomeLog, heading, importAndWait, say } from '../outcome-log.ts';
import type { DemoOptions, Outcome } from '../r2d2/scenario.ts';
import { attachFleet, deployFleet, type FleetDeployment } from './deployment.ts';
import { BinaryShipClient, TextShipClient, launchShip, netcat, type Ship } from './ships.ts';

export interface RunningFleetDemo {
  outcomes: Outcome[];
  stop(): Promise<void>;
  /** What a person can try while the demo keeps running (npm run demo -- fleet --stay). */
  hint?: string;
}

const SECURE_FLEET_POLICY = path.join(projectRoot, 'examples', 'policies', 'memcached-secure-fleet.yaml');
const REBEL_ALLIANCE_POLICY = path.join(projectRoot, 'examples', 'policies', 'memcached-rebel-alliance.yaml');

// The guide's canned text requests (memcd-env.sh).
const AWING_COORD = '4309.432,918.980';
const XWING_COORD = '8893.34,234.3290';
const SETXC = `set xwing-coord 0 2400 16\r\n${XWING_COORD}\r\nquit\r\n`;
const GETXC = 'get xwing-coord\r\nquit\r\n';
const GETAC = 'get awing-coord\r\nquit\r\n';
const DENIED_TEXT = 'CLIENT_ERROR access denied\r\n';
/** How the `memcached` npm client reports `CLIENT_ERROR access denied`. */
const DENIED_TEXT_CLIENT = 'Error: access denied';
const DENIED_GET_BINARY = 'Error: MemJS GET: Authentication error';
const DENIED_SET_BINARY = 'Error: MemJS SET: Authentication error';

export async function runFleetDemo(options: DemoOptions = {}): Promise<RunningFleetDemo> {
  const deployment = options.compose === true ? await attachFleet() : await deployFleet();
  const ships: Ship[] = [];
  const stop = async (): Promise<void> => {
    for (const ship of ships) await ship.close().catch(() => undefined);
    await deployment.stop();
  };
  try {
    // Each ship sends from the address the store's endpoints give it (the guide's fleet, then the post's).
    const addresses = endpointAddresses(path.join(deployment.endpointsDir, 'rebel-alliance.yaml'));
    const launch = async (name: string): Promise<Ship> => {
      const address = addresses.get(name);
      if (address === undefined) throw new Error(`${path.join(deployment.endpointsDir, 'rebel-alliance.yaml')} has no endpoint ${name} with an address`);
      deployment.takeAddress(address);
      const ship = await launchShip(name, address, deployment.target);
      ships.push(ship);
      say(`${name.padEnd(18)}sends from ${address}`);
      return ship;
    };
    const fleet: Fleet = {
      awing: await launch('a-wing'),
      xwing: await launch('x-wing'),
      tracker: await launch('alliance-tracker'),
    };
    const log = new OutcomeLog();
    await beforePolicy(fleet, log);
    await secureFleet(deployment, fleet, log);
    await rebelAlliance(deployment, { maintenance: await launch('fleet-maintenance'), monitoring: await launch('fleet-monitoring'), jedi: await launch('jedi'), awing: fleet.awing }, log);
    const hint = options.compose === true ? undefined : `The demo keeps running: \`nc -C -s 127.0.0.36 127.0.0.1 ${deployment.target.port}\` talks to memcached through Envoy as the jedi, \`nc -C -s 127.0.0.35 127.0.0.1 ${deployment.target.port}\` as fleet monitoring (type \`get alliance/fleet/x\`).`;
    return { outcomes: log.outcomes, stop, hint };
  } catch (error) {
    await stop();
    throw error;
  }
}

interface Fleet {
  awing: Ship;
  xwing: Ship;
  tracker: Ship;
}

async function beforePolicy(fleet: Fleet, log: OutcomeLog): Promise<void> {
  heading('Before any policy: every ship can read and overwrite every coordinate');
  const awing = new BinaryShipClient(fleet.awing);
  const tracker = new BinaryShipClient(fleet.tracker);
  try {
    await log.step('no policy: a-wing stores its coordinates (binary)', `a-wing >>> client.set("awing-coord", "${AWING_COORD}", time=2400)`, () => awing.set('awing-coord', AWING_COORD), 'true');
    await log.step('no policy: a-wing reads its coordinates', 'a-wing >>> client.get("awing-coord")', () => awing.get('awing-coord'), AWING_COORD);
    await log.step('no policy: x-wing stores its coordinates (text, nc)', nc('x-wing', SETXC), () => netcat(fleet.xwing, SETXC), 'STORED\r\n');
    await log.step('no policy: x-wing reads its coordinates', nc('x-wing', GETXC), () => netcat(fleet.xwing, GETXC), `VALUE xwing-coord 0 16\r\n${XWING_COORD}\r\nEND\r\n`);
    await log.step('no policy (attack): x-wing reads the a-wing\'s coordinates', nc('x-wing', GETAC), () => netcat(fleet.xwing, GETAC), new RegExp(`^VALUE awing-coord \\d+ 16\\r\\n${AWING_COORD}\\r\\nEND\\r\\n$`));
    await log.step('no policy (attack): a-wing overwrites the x-wing\'s coordinates', 'a-wing >>> client.set("xwing-coord", "0.0,0.0", time=2400)', () => awing.set('xwing-coord', '0.0,0.0'), 'true');
    await log.step('no policy: a-wing puts them back', `a-wing >>> client.set("xwing-coord", "${XWING_COORD}", time=2400)`, () => awing.set('xwing-coord', XWING_COORD), 'true');
    await log.step('no policy: the tracker reads the x-wing\'s coordinates', 'alliance-tracker >>> client.get("xwing-coord")', () => tracker.get('xwing-coord'), XWING_COORD);
  } finally {
    awing.close();
    tracker.close();
  }
}

async function secureFleet(deployment: FleetDeployment, fleet: Fleet, log: OutcomeLog): Promise<void> {
  heading('Step 1: the guide\'s secure-fleet policy');
  await importAndWait(deployment, log, [SECURE_FLEET_POLICY], 'secure-fleet');
  const awing = new BinaryShipClient(fleet.awing);
  const tracker = new BinaryShipClient(fleet.tracker);
  const xwingText = new TextShipClient(fleet.xwing);
  try {
    say('\nDenied:');
    await log.step('secure-fleet: x-wing may not read the a-wing\'s coordinates', nc('x-wing', GETAC), () => netcat(fleet.xwing, GETAC), DENIED_TEXT);
    await log.step('secure-fleet: a-wing may not read the x-wing\'s coordinates (binary status 8)', 'a-wing >>> client.get("xwing-coord")', () => awing.get('xwing-coord'), DENIED_GET_BINARY);
    await log.step('secure-fleet: the tracker may not write', 'alliance-tracker >>> client.set("awing-coord", "0.0,0.0", time=2400)', () => tracker.set('awing-coord', '0.0,0.0'), DENIED_SET_BINARY);
    await log.step('secure-fleet: x-wing\'s text client may not read the a-wing\'s coordinates', 'x-wing > memcached.get("awing-coord")', () => xwingText.get('awing-coord'), DENIED_TEXT_CLIENT);
    log.record('secure-fleet: the tracker\'s denied write never reached memcached', AWING_COORD, await storedValue(deployment, 'awing-coord', fleet.tracker));

    say('\nStill allowed:');
    await log.step('secure-fleet: x-wing stores its own coordinates (nc)', nc('x-wing', SETXC), () => netcat(fleet.xwing, SETXC), 'STORED\r\n');
    await log.step('secure-fleet: x-wing reads its own coordinates (nc)', nc('x-wing', GETXC), () => netcat(fleet.xwing, GETXC), `VALUE xwing-coord 0 16\r\n${XWING_COORD}\r\nEND\r\n`);
    await log.step('secure-fleet: x-wing\'s text client stores a new position', 'x-wing > memcached.set("xwing-coord", "8893.34,234.3291", 2400)', () => xwingText.set('xwing-coord', '8893.34,234.3291'), 'true');
    await log.step('secure-fleet: x-wing\'s text client reads it back', 'x-wing > memcached.get("xwing-coord")', () => xwingText.get('xwing-coord'), '8893.34,234.3291');
    await log.step('secure-fleet: a-wing stores its own coordinates', `a-wing >>> client.set("awing-coord", "${AWING_COORD}", time=2400)`, () => awing.set('awing-coord', AWING_COORD), 'true');
    await log.step('secure-fleet: a-wing reads its own coordinates', 'a-wing >>> client.get("awing-coord")', () => awing.get('awing-coord'), AWING_COORD);
    await log.step('secure-fleet: the tracker reads the a-wing\'s coordinates', 'alliance-tracker >>> client.get("awing-coord")', () => tracker.get('awing-coord'), AWING_COORD);
    await log.step('secure-fleet: the tracker reads the x-wing\'s coordinates', 'alliance-tracker >>> client.get("xwing-coord")', () => tracker.get('xwing-coord'), '8893.34,234.3291');
  } finally {
    awing.close();
    tracker.close();
    xwingText.close();
  }
}

interface RebelShips {
  maintenance: Ship;
  monitoring: Ship;
  jedi: Ship;
  awing: Ship;
}

async function rebelAlliance(deployment: FleetDeployment, ships: RebelShips, log: OutcomeLog): Promise<void> {
  heading('Step 2: the Cilium 1.3 release post\'s policy (the server is now labelled app: memcached)');
  const endpoints = path.join(deployment.endpointsDir, 'rebel-alliance.yaml');
  await importAndWait(deployment, log, [endpoints, '--name', 'endpoints.yaml'], 'the post\'s endpoints');
  await importAndWait(deployment, log, [REBEL_ALLIANCE_POLICY], 'secure-rebel-alliance-memcache');
  const maintenance = new TextShipClient(ships.maintenance);
  const monitoring = new BinaryShipClient(ships.monitoring);
  const awing = new BinaryShipClient(ships.awing);
  try {
    say('\nFleet maintenance reads and writes under alliance/fleet/ (text protocol):');
    await log.step('post: maintenance writes under alliance/fleet/', 'fleet-maintenance > memcached.set("alliance/fleet/x-wing", "patrol", 2400)', () => maintenance.set('alliance/fleet/x-wing', 'patrol'), 'true');
    await log.step('post: maintenance reads under alliance/fleet/', 'fleet-maintenance > memcached.get("alliance/fleet/x-wing")', () => maintenance.get('alliance/fleet/x-wing'), 'patrol');
    await log.step('post: maintenance deletes under alliance/fleet/ (writeGroup)', 'fleet-maintenance > memcached.del("alliance/fleet/x-wing")', () => maintenance.delete('alliance/fleet/x-wing'), 'true');
    await log.step('post: maintenance writes again', 'fleet-maintenance > memcached.set("alliance/fleet/x-wing", "hyperspace", 2400)', () => maintenance.set('alliance/fleet/x-wing', 'hyperspace'), 'true');
    await log.step('post: maintenance may not write outside the prefix', 'fleet-maintenance > memcached.set("alliance/plans", "death-star", 2400)', () => maintenance.set('alliance/plans', 'death-star'), DENIED_TEXT_CLIENT);

    say('\nFleet monitoring only reads under alliance/fleet/ (binary protocol, then meta commands):');
    await log.step('post: monitoring reads under alliance/fleet/', 'fleet-monitoring >>> client.get("alliance/fleet/x-wing")', () => monitoring.get('alliance/fleet/x-wing'), 'hyperspace');
    await log.step('post: monitoring may not write there', 'fleet-monitoring >>> client.set("alliance/fleet/x-wing", "0.0,0.0", time=2400)', () => monitoring.set('alliance/fleet/x-wing', '0.0,0.0'), DENIED_SET_BINARY);
    await log.step('post: monitoring may not read outside the prefix', 'fleet-monitoring >>> client.get("awing-coord")', () => monitoring.get('awing-coord'), DENIED_GET_BINARY);
    const metaGet = 'mg alliance/fleet/x-wing v\r\n';
    await log.step('post: monitoring reads with a meta command (mg counts as get)', nc('fleet-monitoring', metaGet), () => netcat(ships.monitoring, metaGet), 'VA 10\r\nhyperspace\r\n');
    const metaSet = 'ms alliance/fleet/x-wing 7\r\nboarded\r\n';
    await log.step('post: monitoring may not write with a meta command (ms counts as set)', nc('fleet-monitoring', metaSet), () => netcat(ships.monitoring, metaSet), DENIED_TEXT);
    log.record('post: the denied writes never reached memcached', 'hyperspace', await storedValue(deployment, 'alliance/fleet/x-wing', ships.monitoring));

    say('\nA jedi may do anything:');
    const jediSet = 'set alliance/plans 0 0 10\r\ndeath-star\r\n';
    await log.step('post: a jedi writes anywhere', nc('jedi', jediSet), () => netcat(ships.jedi, jediSet), 'STORED\r\n');
    const jediGet = 'get awing-coord\r\n';
    await log.step('post: a jedi reads anything', nc('jedi', jediGet), () => netcat(ships.jedi, jediGet), new RegExp(`^VALUE awing-coord \\d+ 16\\r\\n${AWING_COORD}\\r\\nEND\\r\\n$`));
    await log.step('post: a jedi runs keyless commands', nc('jedi', 'version\r\n'), () => netcat(ships.jedi, 'version\r\n'), /^VERSION \S+\r\n$/);

    say('\nThe guide\'s ships have no rule in the post\'s policy:');
    await log.step('post: the a-wing is denied once the server is selected (default deny)', 'a-wing >>> client.get("awing-coord")', () => awing.get('awing-coord'), DENIED_GET_BINARY);
  } finally {
    maintenance.close();
    monitoring.close();
    awing.close();
  }
}

/**
 * What memcached itself holds for `key`, read past Envoy; with Weir as memcached's sidecar nothing
 * gets past Envoy, so `reader`, a ship the policy lets read the key, reads it through the sidecar.
 */
async function storedValue(deployment: FleetDeployment, key: string, reader: Ship): Promise<string> {
  const backend = deployment.backend;
  if (backend === undefined) {
    say(`(memcached's own value of ${key}, read by ${reader.name} through the sidecar: nothing reaches memcached past it)`);
    const client = new BinaryShipClient(reader);
    try {
      return await client.get(key);
    } finally {
      client.close();
    }
  }
  const client = memjs.Client.create(`${backend.host}:${backend.port}`, { retries: 0, timeout: 3, logger: { log: () => undefined } });
  try {
    const { value } = await client.get(key);
    return value === null ? '(missing)' : value.toString();
  } finally {
    client.close();
  }
}

/** Endpoint name → its first address, from a file of `kind: Endpoint` documents. */
function endpointAddresses(file: string): Map<string, string> {
  const addresses = new Map<string, string>();
  for (const document of parseAllDocuments(fs.readFileSync(file, 'utf8'))) {
    const endpoint = document.toJS() as { kind?: string; metadata?: { name?: string }; spec?: { ips?: string[] } } | null;
    const [address] = endpoint?.spec?.ips ?? [];
    if (endpoint?.kind === 'Endpoint' && endpoint.metadata?.name !== undefined && address !== undefined) addresses.set(endpoint.metadata.name, address);
  }
  return addresses;
}

function nc(ship: string, requests: string): string {
  return `${ship} $ echo -en "${requests.replaceAll('\r\n', '\\r\\n')}" | nc memcd-server 11211`;
}

