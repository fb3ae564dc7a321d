// The Empire's clients. Weir tells endpoints apart by source address, so each member (HQ, the
// outpost) talks to Envoy through a relay that connects from the member's own 127.x address (the
// fleet demo's relay). Through it a member runs what the guide runs: cqlsh (protocol v5, as it
// negotiates with Cassandra 5) and, beside it, cassandra-driver (protocol v4). Every call resolves
// to the text a user would see: cqlsh's output, or the driver's rows or error.
import cassandra from 'cassandra-driver';
import { runCqlsh } from '../servers/cassandra/cqlsh.ts';
import { launchShip, type Ship } from '../fleet/ships.ts';

export type Relay = Ship;

export function openRelay(member: string, sourceAddress: string, proxyPort: number): Promise<Relay> {
  return launchShip(member, sourceAddress, { host: '127.0.0.1', port: proxyPort });
}

/**
 * `cqlsh cassandra-svc -e CQL` through the member's relay: what cqlsh printed, stdout then stderr,
 * without the warning cqlsh prints when its bundled version differs from the server's patch level.
 */
export async function cqlsh(relay: Relay, cql: string): Promise<string> {
  const result = await runCqlsh({ host: '127.0.0.1', port: relay.port, execute: cql, timeoutMs: 20_000 });
  return `${withoutVersionWarning(result.stdout)}\n${withoutVersionWarning(result.stderr)}`.trim();
}

function withoutVersionWarning(output: string): string {
  return output.split('\n').filter((line) => !CQLSH_VERSION_WARNING.test(line)).join('\n').trim();
}

const CQLSH_VERSION_WARNING = /^WARNING: cqlsh was built against \S+, but this server is \S+\./;

/** A cassandra-driver session through the member's relay, limited to protocol v4. */
export class DriverSession {
  readonly client: cassandra.Client;
  private controlConnectionLog = '';

  constructor(relay: Relay) {
    this.client = new cassandra.Client({
      contactPoints: [`127.0.0.1:${relay.port}`],
      localDataCenter: 'datacenter1',
      protocolOptions: { maxVersion: cassandra.types.protocolVersion.v4 },
      pooling: { coreConnectionsPerHost: { [cassandra.types.distance.local]: 1 } },
    });
    this.client.on('log', (_level: string, _className: string, message: string) => {
      if (message.startsWith('ControlConnection using protocol version')) this.controlConnectionLog = message;
    });
  }

  /** Connects; resolves to the protocol version the driver negotiated, e.g. "v4". */
  async connect(): Promise<string> {
    await this.client.connect();
    const version = /protocol version 0x([0-9a-f]+)/.exec(this.controlConnectionLog);
    return version === null ? 'unknown' : `v${parseInt(version[1] ?? '0', 16)}`;
  }

  /** Runs one statement; resolves to "N rows", "applied" or the error as the driver reports it. */
  execute(cql: string, params?: unknown[], options: { prepare?: boolean } = {}): Promise<string> {
    return outcomeText(this.client.execute(cql, params, { prepare: options.prepare === true }).then(describeResult));
  }

  batch(statements: Array<{ query: string; params?: unknown[] }>, options: { prepare?: boolean } = {}): Promise<string> {
    return outcomeText(this.client.batch(statements, { prepare: options.prepare === true }).then(() => 'applied'));
  }

  close(): Promise<void> {
    return this.client.shutdown();
  }
}

function describeResult(result: cassandra.types.ResultSet): string {
  return result.columns === null || result.columns.length === 0 ? 'applied' : `${result.rowLength} rows`;
}

/** A driver error the way the demo prints it: `ResponseError code=8448: Request Unauthorized`. */
async function outcomeText(result: Promise<string>): Promise<string> {
  return result.catch((error: unknown) => {
    if (error instanceof cassandra.errors.ResponseError) return `ResponseError code=${error.code}: ${error.message}`;
    return `Error: ${error instanceof Error ? error.message : String(error)}`;
  });
}
