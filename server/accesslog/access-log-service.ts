// Binds weir.AccessLogService/StreamAccessLogs (protos/weir/accesslog.proto) to a grpc-js server:
// each agent holds one stream; every batch is checked, its new entries become records for the
// flow hub, and the server answers with the sequence it now holds. Sequence and loss bookkeeping
// is agent-sessions.ts; fan-out is flow-hub.ts. Registered on the xDS server's port, so agents
// reach it through the same `weir-xds` cluster as ADS, over the same mTLS: the stream is bound to
// the node of its client certificate (the authenticator decides), and records carry that node.
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { loadSync, type PackageDefinition } from '@grpc/proto-loader';
import type { Logger } from 'pino';
import { silentLogger } from '../log/logger.ts';
import { peerCertificateFacts, type AuthenticatedSession, type PeerAuthenticator } from '../pki/peer-authenticator.ts';
import { weirProtoDir } from '../xds/envoy-protos.ts';
import { recordFromMessage, type AccessLogEntryMessage, type AddressIdentityResolver, type IdentityLabelResolver } from './access-log-record.ts';
import type { AgentDropCounters, AgentSessions } from './agent-sessions.ts';
import { pluginConfigReportOf, type PluginConfigReports } from './plugin-config-reports.ts';
import type { FlowHub } from './flow-hub.ts';

export const ACCESS_LOG_SERVICE_NAME = 'weir.AccessLogService';

/** weir.AccessLogBatch as proto-loader delivers it (keepCase, longs as strings). */
export interface AccessLogBatchMessage {
  node_id?: string;
  agent_run?: string | number;
  first_sequence?: string | number;
  entries?: AccessLogEntryMessage[];
  drops?: { queue?: string | number; buffer?: string | number; malformed?: string | number } | null;
}

export interface AccessLogAckMessage {
  acked_sequence: string;
}

export interface AccessLogServiceOptions {
  hub: FlowHub;
  sessions: AgentSessions;
  /** For stream lifecycle and rejected batches. Default: silent. */
  logger?: Logger;
  /** Fills peer labels the agent did not send. */
  labelsOf?: IdentityLabelResolver;
  /** Fills peer identities the agent did not send, from the peer's IP. */
  identityOfAddress?: AddressIdentityResolver;
  /** Where plugin configuration reports (entries with `plugin_config`) go; without it they are ignored. */
  pluginReports?: PluginConfigReports;
  /** Binds each stream to the node of its client certificate (the xDS server's authenticator). */
  authenticator: PeerAuthenticator;
}

let servicePackage: PackageDefinition | undefined;

/** proto-loader's definition of weir.AccessLogService, loaded once per process. */
export function accessLogServicePackage(): PackageDefinition {
  servicePackage ??= loadSync(path.join(weirProtoDir(), 'weir', 'accesslog.proto'), {
    keepCase: true,
    longs: String,
    enums: String,
    defaults: true,
    arrays: true,
    objects: true,
    oneofs: true,
  });
  return servicePackage;
}

export function addAccessLogService(server: grpc.Server, options: AccessLogServiceOptions): void {
  const definition = accessLogServicePackage()[ACCESS_LOG_SERVICE_NAME];
  if (!definition || 'format' in definition) throw new Error(`${ACCESS_LOG_SERVICE_NAME} missing from protos/weir/accesslog.proto`);
  server.addService(definition as grpc.ServiceDefinition, {
    StreamAccessLogs: (call: grpc.ServerDuplexStream<AccessLogBatchMessage, AccessLogAckMessage>) => serveAccessLogStream(call, options),
  });
}

function serveAccessLogStream(call: grpc.ServerDuplexStream<AccessLogBatchMessage, AccessLogAckMessage>, options: AccessLogServiceOptions): void {
  const logger = options.logger ?? silentLogger();
  const peer = call.getPeer();
  let nodeId: string | undefined;
  let session: AuthenticatedSession | undefined;
  let closed = false;
  const close = (): void => {
    if (closed) return;
    closed = true;
    session?.close();
    if (nodeId !== undefined) {
      options.sessions.streamClosed(nodeId);
      logger.info({ node: nodeId, peer }, 'access-log stream closed');
    }
  };
  const fail = (code: grpc.status, message: string): void => {
    logger.warn({ node: nodeId, peer, reason: message }, 'access-log stream refused');
    call.emit('error', Object.assign(new Error(message), { code, details: message }));
  };
  call.on('data', (batch: AccessLogBatchMessage) => {
    if (closed) return;
    const batchNode = batch.node_id ?? '';
    if (batchNode === '') return fail(grpc.status.INVALID_ARGUMENT, 'AccessLogBatch.node_id is empty; the agent must send its Envoy node id on every batch');
    if (nodeId === undefined) {
      const admission = options.authenticator.authenticate(batchNode, peerCertificateFacts(call.getAuthContext().sslPeerCertificate));
      if ('refusal' in admission) return fail(grpc.status.PERMISSION_DENIED, `access-log stream refused: ${admission.refusal}`);
      session = admission.session;
      session.onEnd((reason) => fail(grpc.status.UNAUTHENTICATED, reason));
      nodeId = session.nodeId;
      options.sessions.streamOpened(nodeId, peer);
      logger.info({ node: nodeId, peer }, 'access-log stream opened');
    } else if (batchNode !== nodeId) {
      return fail(grpc.status.INVALID_ARGUMENT, `AccessLogBatch.node_id changed from "${nodeId}" to "${batchNode}" on one stream; open one stream per node`);
    }
    const ackedSequence = acceptBatch(batch, nodeId, options, logger);
    call.write({ acked_sequence: String(ackedSequence) });
  });
  call.on('end', () => {
    close();
    call.end();
  });
  call.on('cancelled', close);
  call.on('error', close);
  call.on('close', close);
}

function acceptBatch(batch: AccessLogBatchMessage, nodeId: string, options: AccessLogServiceOptions, logger: Logger): number {
  const entries = batch.entries ?? [];
  const verdict = options.sessions.acceptBatch({
    nodeId,
    agentRun: String(batch.agent_run ?? '0'),
    firstSequence: Number(batch.first_sequence ?? 0),
    entryCount: entries.length,
    drops: dropCounters(batch.drops),
  });
  let rejected = 0;
  for (const entry of entries.slice(verdict.firstNewEntry)) {
    const report = pluginConfigReportOf(entry);
    if (report !== undefined) {
      options.pluginReports?.record(nodeId, report);
      if (report.state === 'rejected') logger.warn({ node: nodeId, plugin: report.plugin, reason: report.reason }, 'a parser in this proxy refused its plugin configuration; Envoy keeps the previous one (see weir status)');
      continue;
    }
    const record = recordFromMessage(entry, {
      batchNodeId: nodeId,
      ...(options.labelsOf !== undefined ? { labelsOf: options.labelsOf } : {}),
      ...(options.identityOfAddress !== undefined ? { identityOfAddress: options.identityOfAddress } : {}),
    });
    if ('problem' in record) {
      rejected += 1;
      logger.warn({ node: nodeId, problem: record.problem }, 'access-log entry rejected; counted as dropped (stage server_rejected)');
      continue;
    }
    options.hub.publish(record);
  }
  options.sessions.countRejected(nodeId, rejected);
  return verdict.ackedSequence;
}

function dropCounters(drops: AccessLogBatchMessage['drops']): AgentDropCounters {
  return {
    queue: Number(drops?.queue ?? 0),
    buffer: Number(drops?.buffer ?? 0),
    malformed: Number(drops?.malformed ?? 0),
  };
}
