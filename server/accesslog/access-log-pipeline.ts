// Assembles the server half of the access-log path in one call: metrics, the flow hub (pino lines,
// ring, viewers), per-agent sessions, and the gRPC service to register on the xDS server. `weir
// serve` and tests use this instead of wiring the parts by hand.
import type * as grpc from '@grpc/grpc-js';
import type { PeerAuthenticator } from '../pki/peer-authenticator.ts';
import { pino, type Logger } from 'pino';
import { MetricsRegistry } from '../metrics/metrics-registry.ts';
import { createAccessLogMetrics, type AccessLogMetrics } from '../metrics/weir-metrics.ts';
import type { AddressIdentityResolver, IdentityLabelResolver } from './access-log-record.ts';
import { addAccessLogService } from './access-log-service.ts';
import { AgentSessions } from './agent-sessions.ts';
import { FlowHub } from './flow-hub.ts';

export interface AccessLogPipelineOptions {
  /** Records kept in memory for viewers. Default 4096. */
  ringSize?: number;
  /** Receives one JSON line per record. Default: silent (see accessLogEntryLogger). */
  entryLogger?: Logger;
  /** Stream lifecycle and problems. Default: silent. */
  logger?: Logger;
  /** The registry behind `/metrics`. Default: a new one. */
  registry?: MetricsRegistry;
  labelsOf?: IdentityLabelResolver;
  identityOfAddress?: AddressIdentityResolver;
}

export interface AccessLogPipeline {
  hub: FlowHub;
  sessions: AgentSessions;
  metrics: AccessLogMetrics;
  /**
   * Adds weir.AccessLogService to a grpc-js server, authenticating streams with `authenticator`
   * (the xDS server's; pass as startControlServer's registerServices).
   */
  registerServices(server: grpc.Server, authenticator: PeerAuthenticator): void;
}

export function createAccessLogPipeline(options: AccessLogPipelineOptions = {}): AccessLogPipeline {
  const metrics = createAccessLogMetrics(options.registry ?? new MetricsRegistry());
  const hub = new FlowHub({
    metrics,
    ...(options.ringSize !== undefined ? { ringSize: options.ringSize } : {}),
    ...(options.entryLogger !== undefined ? { entryLogger: options.entryLogger } : {}),
  });
  const sessions = new AgentSessions({ metrics });
  metrics.registry.collected('weir_accesslog_agents_connected', 'Agents with an open access-log stream', 'gauge', () => [
    { labels: {}, value: sessions.list().filter((agent) => agent.connected).length },
  ]);
  metrics.registry.collected('weir_accesslog_ring_evicted_total', 'Records pushed out of the in-memory ring by newer ones (still in the JSON log)', 'counter', () => [
    { labels: {}, value: hub.ring.evicted },
  ]);
  return {
    hub,
    sessions,
    metrics,
    registerServices: (server, authenticator) =>
      addAccessLogService(server, {
        hub,
        sessions,
        authenticator,
        ...(options.logger !== undefined ? { logger: options.logger } : {}),
        ...(options.labelsOf !== undefined ? { labelsOf: options.labelsOf } : {}),
        ...(options.identityOfAddress !== undefined ? { identityOfAddress: options.identityOfAddress } : {}),
      }),
  };
}

export interface AccessLogFileOptions {
  /** A file to append JSON lines to; default stdout. */
  file?: string;
}

/** The logger for access-log records: pino JSON lines named `weir-accesslog`, to a file or stdout. */
export function accessLogEntryLogger(options: AccessLogFileOptions = {}): Logger {
  const settings = { name: 'weir-accesslog', level: 'info' };
  if (options.file === undefined) return pino(settings);
  return pino(settings, pino.destination({ dest: options.file, mkdir: true, sync: false }));
}
