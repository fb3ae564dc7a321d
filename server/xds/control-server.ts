// Wires the xDS server together (go-control-plane's server.go): a grpc-js server with ADS and the
// per-type services, one snapshot cache, one proxy status registry, optional mTLS with node
// identity checks. This is the programmatic entry point: startControlServer(options).
import fs from 'node:fs';
import os from 'node:os';
import * as grpc from '@grpc/grpc-js';
import type { Logger } from 'pino';
import { silentLogger } from '../log/logger.ts';
import { serveDiscoveryStreams } from './ads.ts';
import type { NodeIdentity } from './config-watcher.ts';
import { ProxyStatusRegistry, type ProxyStatus } from './proxy-status.ts';
import { DEFAULT_SNAPSHOT_KEY, SnapshotCache } from './snapshot-cache.ts';
import type { Snapshot } from './snapshot.ts';
import { admitEveryNode, type StreamContext } from './stream-context.ts';

export interface ControlServerTlsOptions {
  /** PEM files. */
  certFile: string;
  keyFile: string;
  /** CA that signs proxy certificates; every proxy must present one. */
  clientCaFile: string;
}

export interface ControlServerOptions {
  /** Default 127.0.0.1. */
  address?: string;
  /** Default 0: a free port, reported in the result. */
  port?: number;
  /** Default: a silent logger. */
  logger?: Logger;
  /** Changes inside this window coalesce into one push per proxy. Default 100 ms. */
  batchWindowMs?: number;
  /** control_plane.identifier on responses. Default `weir@<hostname>`. */
  controlPlaneId?: string;
  /** mTLS on the xDS port; the node id must then match a SAN of the proxy's certificate. Default: h2c. */
  tls?: ControlServerTlsOptions;
  /** Disconnected proxies stay in the status registry this long. Default 1 hour. */
  forgetDisconnectedAfterMs?: number;
  /** Initial snapshot for every proxy. Without one, streams wait until setSnapshot is called. */
  snapshot?: Snapshot;
  /** Registry to record proxy status in (e.g. one that also counts for metrics). Default: a new one. */
  status?: ProxyStatusRegistry;
  /** Adds more gRPC services on the xDS port (e.g. the access-log service) before it opens. */
  registerServices?: (server: grpc.Server) => void;
  /** Told when a proxy's stream opens (node.metadata as plain JSON); returns what to call when it closes. */
  nodeConnected?: StreamContext['nodeConnected'];
}

export interface ControlServer {
  readonly address: string;
  readonly port: number;
  readonly cache: SnapshotCache;
  readonly status: ProxyStatusRegistry;
  /** Replaces the config of one proxy (by node id), or of every proxy without a node id. */
  setSnapshot(snapshot: Snapshot, nodeId?: string): void;
  listProxies(): ProxyStatus[];
  /** Stops accepting streams, closes open ones and the port. */
  stop(): Promise<void>;
}

const CONTROL_SERVER_DEFAULTS = {
  address: '127.0.0.1',
  port: 0,
  batchWindowMs: 100,
  controlPlaneId: `weir@${os.hostname()}`,
  forgetDisconnectedAfterMs: 3_600_000,
} as const;

export async function startControlServer(options: ControlServerOptions = {}): Promise<ControlServer> {
  const settings = { ...CONTROL_SERVER_DEFAULTS, ...definedOnly(options) };
  const logger = options.logger ?? silentLogger();
  const cache = new SnapshotCache({ batchWindowMs: settings.batchWindowMs });
  const status = options.status ?? new ProxyStatusRegistry();
  if (options.snapshot) cache.setSnapshot(DEFAULT_SNAPSHOT_KEY, options.snapshot);
  const context: StreamContext = {
    watcher: cache,
    status,
    logger,
    controlPlaneId: settings.controlPlaneId,
    admitNode: options.tls ? admitNodeMatchingCertificate : admitEveryNode,
    ...(options.nodeConnected ? { nodeConnected: options.nodeConnected } : {}),
  };
  const server = new grpc.Server({ 'grpc.max_send_message_length': 64 * 1024 * 1024 });
  options.registerServices?.(server);
  const port = await bind(server, `${hostForUri(settings.address)}:${settings.port}`, credentialsFor(options.tls));
  // The xDS streams are served on the bound HTTP/2 servers, beside grpc-js's services (ads.ts).
  serveDiscoveryStreams(server, context);
  logger.info({ address: settings.address, port, tls: options.tls !== undefined }, 'xDS server listening');
  const pruning = setInterval(() => status.forgetDisconnected(settings.forgetDisconnectedAfterMs), Math.min(settings.forgetDisconnectedAfterMs, 60_000));
  pruning.unref();
  return {
    address: settings.address,
    port,
    cache,
    status,
    setSnapshot: (snapshot, nodeId) => cache.setSnapshot(nodeId ?? DEFAULT_SNAPSHOT_KEY, snapshot),
    listProxies: () => status.list(),
    stop: () => {
      clearInterval(pruning);
      return stopServer(server, cache, logger);
    },
  };
}

/**
 * With mTLS, a proxy may only ask for its own node's config: node.id must equal a SAN of its
 * certificate (URI or DNS), or be the last path segment of a SPIFFE URI.
 */
export function admitNodeMatchingCertificate(node: NodeIdentity, peerIdentities: readonly string[]): string | undefined {
  if (peerIdentities.length === 0) {
    return `node "${node.id}" presented no client certificate identity; the xDS port requires mTLS`;
  }
  const matches = peerIdentities.some((identity) => identity === node.id || identity.endsWith(`/${node.id}`));
  if (matches) return undefined;
  return `node id "${node.id}" does not match the client certificate (${peerIdentities.join(', ')}); set node.id to the certificate's identity`;
}

function credentialsFor(tls: ControlServerTlsOptions | undefined): grpc.ServerCredentials {
  if (!tls) return grpc.ServerCredentials.createInsecure();
  const read = (file: string, what: string): Buffer => {
    try {
      return fs.readFileSync(file);
    } catch (error) {
      throw new Error(`xDS TLS: cannot read ${what} ${file}: ${error instanceof Error ? error.message : String(error)}`);
    }
  };
  return grpc.ServerCredentials.createSsl(
    read(tls.clientCaFile, 'client CA'),
    [{ cert_chain: read(tls.certFile, 'certificate'), private_key: read(tls.keyFile, 'private key') }],
    true,
  );
}

function bind(server: grpc.Server, target: string, credentials: grpc.ServerCredentials): Promise<number> {
  return new Promise((resolve, reject) => {
    server.bindAsync(target, credentials, (error, port) => {
      if (error) reject(new Error(`xDS server cannot listen on ${target}: ${error.message}`));
      else resolve(port);
    });
  });
}

function stopServer(server: grpc.Server, cache: SnapshotCache, logger: Logger): Promise<void> {
  cache.close();
  return new Promise((resolve) => {
    const force = setTimeout(() => server.forceShutdown(), 1000);
    server.tryShutdown(() => {
      clearTimeout(force);
      logger.info('xDS server stopped');
      resolve();
    });
    // Proxies keep their streams open forever; end them so tryShutdown can finish.
    setImmediate(() => server.forceShutdown());
  });
}

function hostForUri(address: string): string {
  return address.includes(':') ? `[${address}]` : address;
}

function definedOnly<T extends object>(options: T): Partial<T> {
  return Object.fromEntries(Object.entries(options).filter(([, value]) => value !== undefined)) as Partial<T>;
}
