// Wires the xDS server together (go-control-plane's server.go): a grpc-js server with ADS and the
// per-type services, one snapshot cache, one proxy status registry, and the port's security:
// mTLS with every stream bound to the node of its client certificate (default), or plaintext
// that takes every node id at its word (explicit `insecure`). This is the programmatic entry
// point: startControlServer(options).
import net from 'node:net';
import os from 'node:os';
import * as grpc from '@grpc/grpc-js';
import type { Logger } from 'pino';
import { silentLogger } from '../log/logger.ts';
import type { NodeAuthority } from '../pki/node-authority.ts';
import { insecureAuthenticator, type PeerAuthenticator } from '../pki/peer-authenticator.ts';
import { serveDiscoveryStreams } from './ads.ts';
import { ProxyStatusRegistry, type ProxyStatus } from './proxy-status.ts';
import { rotatingServerCredentials, type RotatingServerCredentials } from './server-credentials.ts';
import { DEFAULT_SNAPSHOT_KEY, SnapshotCache } from './snapshot-cache.ts';
import type { Snapshot } from './snapshot.ts';
import type { StreamContext } from './stream-context.ts';

/**
 * mTLS (the default): the server's certificate comes from `authority`'s CA, every client must
 * present a certificate of that CA, and each stream is bound to the node its certificate names.
 * `insecure`: plaintext h2c, any node id is believed (development only; logged as a warning).
 */
export type ControlServerSecurity =
  | { mode: 'mtls'; authority: NodeAuthority; serverNames?: { dnsNames: readonly string[]; ips: readonly string[] }; serverCertificateLifetimeMs?: number }
  | { mode: 'insecure' };

export interface ControlServerSecurityStatus {
  mode: 'mtls' | 'insecure';
  trustDomain: string | undefined;
  /** When the server's own certificate expires (it is renewed before). */
  serverCertificateNotAfter: Date | undefined;
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
  /** Who may open streams; required, so that plaintext is always a decision. */
  security: ControlServerSecurity;
  /** Disconnected proxies stay in the status registry this long. Default 1 hour. */
  forgetDisconnectedAfterMs?: number;
  /** Initial snapshot for every proxy. Without one, streams wait until setSnapshot is called. */
  snapshot?: Snapshot;
  /** Registry to record proxy status in (e.g. one that also counts for metrics). Default: a new one. */
  status?: ProxyStatusRegistry;
  /**
   * Adds more gRPC services on the xDS port (e.g. the access-log service) before it opens; they
   * share its TLS and should authenticate their streams with `authenticator`.
   */
  registerServices?: (server: grpc.Server, authenticator: PeerAuthenticator) => void;
  /** Told when a proxy's stream opens (node.metadata as plain JSON); returns what to call when it closes. */
  nodeConnected?: StreamContext['nodeConnected'];
}

export interface ControlServer {
  readonly address: string;
  readonly port: number;
  readonly cache: SnapshotCache;
  readonly status: ProxyStatusRegistry;
  /** Authenticates the streams of every service on this port (give it to the access-log service). */
  readonly authenticator: PeerAuthenticator;
  security(): ControlServerSecurityStatus;
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

export async function startControlServer(options: ControlServerOptions): Promise<ControlServer> {
  const settings = { ...CONTROL_SERVER_DEFAULTS, ...definedOnly(options) };
  const logger = options.logger ?? silentLogger();
  const cache = new SnapshotCache({ batchWindowMs: settings.batchWindowMs });
  const status = options.status ?? new ProxyStatusRegistry();
  if (options.snapshot) cache.setSnapshot(DEFAULT_SNAPSHOT_KEY, options.snapshot);
  const context: StreamContext = {
    watcher: cache,
    status,
    logger,
    controlPlane: { identifier: settings.controlPlaneId },
    authenticator: options.security.mode === 'mtls' ? options.security.authority : insecureAuthenticator,
    ...(options.nodeConnected ? { nodeConnected: options.nodeConnected } : {}),
  };
  const server = new grpc.Server({ 'grpc.max_send_message_length': 64 * 1024 * 1024 });
  options.registerServices?.(server, context.authenticator);
  const tls = options.security.mode === 'mtls' ? serverCredentialsFor(options.security, settings.address, logger) : undefined;
  let port: number;
  try {
    port = await bind(server, `${hostForUri(settings.address)}:${settings.port}`, tls?.credentials ?? grpc.ServerCredentials.createInsecure());
  } catch (error) {
    tls?.stop();
    throw error;
  }
  // The xDS streams are served on the bound HTTP/2 servers, beside grpc-js's services (ads.ts).
  serveDiscoveryStreams(server, context);
  logListening(logger, options.security, settings.address, port);
  const pruning = setInterval(() => status.forgetDisconnected(settings.forgetDisconnectedAfterMs), Math.min(settings.forgetDisconnectedAfterMs, 60_000));
  pruning.unref();
  return {
    address: settings.address,
    port,
    cache,
    status,
    authenticator: context.authenticator,
    security: () => ({
      mode: options.security.mode,
      trustDomain: options.security.mode === 'mtls' ? options.security.authority.trustDomain : undefined,
      serverCertificateNotAfter: tls?.notAfter,
    }),
    setSnapshot: (snapshot, nodeId) => cache.setSnapshot(nodeId ?? DEFAULT_SNAPSHOT_KEY, snapshot),
    listProxies: () => status.list(),
    stop: () => {
      clearInterval(pruning);
      tls?.stop();
      return stopServer(server, cache, logger);
    },
  };
}

function serverCredentialsFor(security: Extract<ControlServerSecurity, { mode: 'mtls' }>, address: string, logger: Logger): RotatingServerCredentials {
  return rotatingServerCredentials({
    ca: security.authority.ca,
    names: security.serverNames ?? defaultServerNames(address),
    logger,
    ...(security.serverCertificateLifetimeMs !== undefined ? { lifetimeMs: security.serverCertificateLifetimeMs } : {}),
  });
}

/** Names a client may dial the server by: loopback, this host, and the listen address. Proxies check the SPIFFE ID instead. */
export function defaultServerNames(address: string): { dnsNames: string[]; ips: string[] } {
  const ips = new Set(['127.0.0.1', '::1']);
  if (net.isIP(address) !== 0 && address !== '0.0.0.0' && address !== '::') ips.add(address);
  const dnsNames = new Set(['localhost', os.hostname()]);
  if (net.isIP(address) === 0) dnsNames.add(address);
  return { dnsNames: [...dnsNames], ips: [...ips] };
}

function logListening(logger: Logger, security: ControlServerSecurity, address: string, port: number): void {
  if (security.mode === 'mtls') {
    logger.info({ address, port, security: 'mtls', trustDomain: security.authority.trustDomain }, 'xDS server listening (mTLS: every proxy must present a certificate of the weir CA naming its node id)');
    return;
  }
  logger.warn(
    { address, port, security: 'insecure' },
    'xDS server listening in PLAINTEXT (--insecure): any process that reaches this port can claim any node id, receive its policy and listeners, and fake its ACKs and access logs; use only for development',
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
