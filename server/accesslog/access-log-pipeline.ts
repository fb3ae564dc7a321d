// Assembles the server half of the access-log path in one call: the flow hub (pino lines, ring,
// viewers), per-agent sessions, and the gRPC service to register on the xDS server, all reporting
// to the counters handed in. `weir serve` (server/observability/serve-observability.ts) and tests
// use this instead of wiring the parts by hand.
import type * as grpc from '@grpc/grpc-js';
import type { PeerAuthenticator } from '../pki/peer-authenticator.ts';
import { pino, type Logger } from 'pino';
import { UNCOUNTED, type AccessLogCounters } from './access-log-counters.ts';
import type { AddressIdentityResolver, IdentityLabelResolver } from './access-log-record.ts';
import { addAccessLogService } from './access-log-service.ts';
import { AgentSessions } from './agent-sessions.ts';
import { PluginConfigReports } from './plugin-config-reports.ts';
import { FlowHub } from './flow-hub.ts';

export interface AccessLogPipelineOptions {
  /** Records kept in memory for viewers. Default 4096. */
  ringSize?: number;
  /** Receives one JSON line per record. Default: silent (see accessLogEntryLogger). */
  entryLogger?: Logger;
  /** Stream lifecycle and problems. Default: silent. */
  logger?: Logger;
  /** What the pipeline counts (server/observability/weir-metrics.ts). Default: nothing. */
  counters?: AccessLogCounters;
  labelsOf?: IdentityLabelResolver;
  identityOfAddress?: AddressIdentityResolver;
}

export interface AccessLogPipeline {
  hub: FlowHub;
  sessions: AgentSessions;
  /** What parsers in Istio sidecars reported about their plugin configurations. */
  pluginReports: PluginConfigReports;
  /**
   * Adds weir.AccessLogService to a grpc-js server, authenticating streams with `authenticator`
   * (the xDS server's; pass as startControlServer's registerServices).
   */
  registerServices(server: grpc.Server, authenticator: PeerAuthenticator): void;
}

export function createAccessLogPipeline(options: AccessLogPipelineOptions = {}): AccessLogPipeline {
  const counters = options.counters ?? UNCOUNTED;
  const hub = new FlowHub({
    counters,
    ...(options.ringSize !== undefined ? { ringSize: options.ringSize } : {}),
    ...(options.entryLogger !== undefined ? { entryLogger: options.entryLogger } : {}),
  });
  const sessions = new AgentSessions({ counters });
  const pluginReports = new PluginConfigReports();
  return {
    hub,
    sessions,
    pluginReports,
    registerServices: (server, authenticator) =>
      addAccessLogService(server, {
        hub,
        sessions,
        pluginReports,
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
