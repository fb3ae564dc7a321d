// `weir monitor [--type l7] [--verdict denied] [--proto memcache] [--endpoint LABELS] [--node ID]
// [--last N] [-o json]`: follows `GET /v1/flows` on a running server and prints one line per
// record (monitor-format.ts) until stopped, plus a note whenever the server had to drop records
// for this viewer. observability-cli.ts parses flags into MonitorOptions and calls runMonitor.
import type { AccessLogRecord } from '../accesslog/access-log-record.ts';
import { flowFilterQuery, type FlowFilter } from '../accesslog/flow-filter.ts';
import { FLOWS_PATH } from '../accesslog/flows-http.ts';
import { describeTarget, openApiStream, type ApiTarget } from './api-client.ts';
import { formatMonitorLine, type MonitorOutput } from './monitor-format.ts';
import { readServerSentEvents } from './sse-reader.ts';

export interface MonitorOptions {
  api: ApiTarget;
  filter?: FlowFilter;
  /** Print up to N earlier records from the server's ring first. Default 0. */
  last?: number;
  /** Stop after the replay of `last` instead of following. Default false. */
  noFollow?: boolean;
  output?: MonitorOutput;
  /** Where lines go. Default: stdout. */
  writeLine?: (line: string) => void;
  /** Stop following when aborted (Ctrl-C). */
  signal?: AbortSignal;
  /** Stop after this many records (tests, `--count`). */
  maxRecords?: number;
}

/** Prints records until the stream ends, `signal` aborts or `maxRecords` were printed; returns how many were printed. */
export async function runMonitor(options: MonitorOptions): Promise<number> {
  const writeLine = options.writeLine ?? ((line: string) => process.stdout.write(`${line}\n`));
  const query = flowFilterQuery(options.filter ?? {});
  if (options.last !== undefined && options.last > 0) query.set('last', String(options.last));
  if (options.noFollow) query.set('follow', 'false');
  const pathAndQuery = `${FLOWS_PATH}${query.size > 0 ? `?${query.toString()}` : ''}`;
  const controller = new AbortController();
  const abort = (): void => controller.abort();
  options.signal?.addEventListener('abort', abort, { once: true });
  let printed = 0;
  try {
    const response = await openApiStream(options.api, pathAndQuery, controller.signal);
    if (response.statusCode !== 200) throw new Error(`${describeTarget(options.api)}${pathAndQuery}: HTTP ${response.statusCode ?? 0}: ${await bodyText(response)}`);
    for await (const event of readServerSentEvents(response)) {
      if (event.event === 'dropped') {
        const { dropped } = JSON.parse(event.data) as { dropped: number };
        writeLine(options.output === 'json' ? JSON.stringify({ dropped }) : `!! ${dropped} records dropped by the server for this viewer (reading too slowly)`);
        continue;
      }
      if (event.event !== 'flow') continue;
      writeLine(formatMonitorLine(JSON.parse(event.data) as AccessLogRecord, options.output ?? 'text'));
      printed += 1;
      if (options.maxRecords !== undefined && printed >= options.maxRecords) break;
    }
  } catch (error) {
    if (!controller.signal.aborted) throw error;
  } finally {
    options.signal?.removeEventListener('abort', abort);
    controller.abort();
  }
  return printed;
}

async function bodyText(stream: AsyncIterable<Buffer | string>): Promise<string> {
  let text = '';
  for await (const chunk of stream) text += chunk.toString();
  return text.trim();
}
