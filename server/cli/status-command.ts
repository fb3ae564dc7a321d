// `weir status [--api ADDR] [-o json]`: asks a running server for its health report (`/v1/status`)
// and prints the checks, the proxies with their enforced revisions and access-log state, and the
// pipeline's counters. Exit status 0 when healthy, 1 when a check fails or the server is unreachable.
import type { HealthReport } from '../observability/health-report.ts';
import { STATUS_PATH } from '../observability/http.ts';
import { callApi, describeTarget, type ApiTarget } from './api-client.ts';

export interface StatusOptions {
  api: ApiTarget;
  output?: 'text' | 'json';
}

export interface StatusOutcome {
  text: string;
  exitCode: 0 | 1;
}

export async function weirStatus(options: StatusOptions): Promise<StatusOutcome> {
  const report = await fetchHealthReport(options.api);
  const text = options.output === 'json' ? JSON.stringify(report, null, 2) : formatHealthReport(report);
  return { text, exitCode: report.healthy ? 0 : 1 };
}

async function fetchHealthReport(api: ApiTarget): Promise<HealthReport> {
  const reply = await callApi(api, { method: 'GET', path: STATUS_PATH });
  // 503 carries the report of an unhealthy server; anything else is not a report.
  if (reply.status !== 200 && reply.status !== 503) throw new Error(`${describeTarget(api)}${STATUS_PATH}: HTTP ${reply.status}: ${reply.text.trim()}`);
  return JSON.parse(reply.text) as HealthReport;
}

export function formatHealthReport(report: HealthReport): string {
  const lines = [`Weir: ${report.healthy ? 'healthy' : 'UNHEALTHY'}`];
  for (const check of report.checks) lines.push(`  ${check.name.padEnd(10)} ${check.status.padEnd(8)} ${check.detail}`);
  if (report.proxies.length > 0) {
    lines.push('Proxies:');
    for (const proxy of report.proxies) {
      const state = proxy.connected ? 'connected' : 'disconnected';
      const agent = proxy.policyAgent ? `enforces ${proxy.enforcedRevision ?? 'nothing yet'}` : 'no policy agent';
      const logs = proxy.accessLogConnected ? 'access log streaming' : 'no access-log stream';
      const nacks = proxy.nacks.map((nack) => `; NACK ${nack.type} ${nack.version}: ${nack.message}`).join('');
      lines.push(`  ${proxy.nodeId}: ${state}, ${agent}, ${logs}${nacks}`);
    }
  }
  if (report.pipeline) {
    const pipeline = report.pipeline;
    lines.push(`Access log: ring ${pipeline.recordsInRing}/${pipeline.ringCapacity} (${pipeline.ringEvicted} evicted), ${pipeline.viewers} viewers, ${pipeline.viewerDropped} dropped for slow viewers`);
    for (const agent of pipeline.agents) {
      lines.push(
        `  ${agent.nodeId}: ${agent.received} received, lost ${agent.lostTotal} (queue ${agent.drops.queue}, buffer ${agent.drops.buffer}, malformed ${agent.drops.malformed}, rejected ${agent.rejected}), ${agent.duplicates} duplicates, ${agent.sequenceGaps} sequence gaps`,
      );
    }
  }
  return lines.join('\n');
}
