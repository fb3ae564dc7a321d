// `weir status [--api ADDR] [-o json]`: asks a running server for its health report (`/v1/status`)
// and prints the checks, the proxies with their enforced revisions and access-log state, and the
// pipeline's counters. Exit status 0 when healthy, 1 when a check fails or the server is unreachable.
import { describeApiTarget, openApiStream, type ApiTarget } from '../accesslog/api-stream.ts';
import type { HealthReport } from './health-report.ts';
import { STATUS_PATH } from './http.ts';

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
  const response = await openApiStream(api, STATUS_PATH);
  let body = '';
  for await (const chunk of response) body += chunk.toString();
  if (response.statusCode !== 200 && response.statusCode !== 503) {
    throw new Error(`${describeApiTarget(api)}${STATUS_PATH}: HTTP ${response.statusCode ?? 0}: ${body.trim()}`);
  }
  return JSON.parse(body) as HealthReport;
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
