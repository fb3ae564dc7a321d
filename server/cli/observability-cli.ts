// Flag parsing for the observability commands `weir monitor`, `weir metrics list` and `weir status`
// (cli.ts dispatches to these). Each turns its flags into the command's options object, runs it and
// returns the exit status; API flags (--socket, --server, --token-file, env WEIR_SOCKET, ...) mean
// what they mean for every other API command (api-client.ts).
import { parseArgs } from 'node:util';
import { API_TARGET_FLAGS, apiTargetFrom, type ApiTarget } from './api-client.ts';
import { parseFlowFilter } from '../accesslog/flow-filter.ts';
import { runMonitor } from './monitor-command.ts';
import { metricsList } from './metrics-command.ts';
import { weirStatus } from './status-command.ts';

/** A usage problem: the caller prints it with the usage text and exits 2. */
export class ObservabilityUsageError extends Error {}

const API_FLAGS = API_TARGET_FLAGS;

export async function monitorCli(args: readonly string[], environment: NodeJS.ProcessEnv = process.env): Promise<number> {
  const { values } = parse(args, {
    ...API_FLAGS,
    type: { type: 'string', multiple: true },
    verdict: { type: 'string', multiple: true },
    proto: { type: 'string', multiple: true },
    endpoint: { type: 'string', multiple: true },
    node: { type: 'string', multiple: true },
    last: { type: 'string' },
  });
  const pairs: Array<[string, string]> = [];
  for (const key of ['type', 'verdict', 'proto', 'endpoint', 'node'] as const) for (const value of values[key] ?? []) pairs.push([key, value]);
  const filter = parseFlowFilter(pairs);
  if (!filter.ok) throw new ObservabilityUsageError(`--${filter.problem}`);
  const last = values.last === undefined ? 0 : Number(values.last);
  if (!Number.isInteger(last) || last < 0) throw new ObservabilityUsageError(`--last ${values.last ?? ''}: expected a whole number >= 0`);
  const stop = new AbortController();
  const onSignal = (): void => stop.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    await runMonitor({ api: targetOf(values, environment), filter: filter.filter, last, output: outputOf(values.output, 'json'), signal: stop.signal });
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
  return 0;
}

export async function metricsCli(args: readonly string[], environment: NodeJS.ProcessEnv = process.env): Promise<number> {
  const [subcommand, ...rest] = args;
  if (subcommand !== 'list') throw new ObservabilityUsageError(`unknown metrics subcommand "${subcommand ?? ''}"; use "weir metrics list"`);
  const { values } = parse(rest, API_FLAGS);
  process.stdout.write(`${await metricsList({ api: targetOf(values, environment), output: outputOf(values.output, 'json') === 'json' ? 'json' : 'table' })}\n`);
  return 0;
}

export async function statusCli(args: readonly string[], environment: NodeJS.ProcessEnv = process.env): Promise<number> {
  const { values } = parse(args, API_FLAGS);
  const outcome = await weirStatus({ api: targetOf(values, environment), output: outputOf(values.output, 'json') });
  process.stdout.write(`${outcome.text}\n`);
  return outcome.exitCode;
}

type ParseSpec = Parameters<typeof parseArgs>[0] extends infer Config ? (Config extends { options?: infer Options } ? NonNullable<Options> : never) : never;

function parse<T extends ParseSpec>(args: readonly string[], options: T) {
  try {
    return parseArgs({ args: [...args], options, strict: true, allowPositionals: false });
  } catch (error) {
    throw new ObservabilityUsageError(error instanceof Error ? error.message : String(error));
  }
}

function targetOf(values: { socket?: string | undefined; server?: string | undefined; 'token-file'?: string | undefined; 'ca-file'?: string | undefined }, environment: NodeJS.ProcessEnv): ApiTarget {
  return apiTargetFrom({ socket: values.socket, server: values.server, tokenFile: values['token-file'], caFile: values['ca-file'] }, environment);
}

function outputOf(output: string | undefined, structured: 'json'): 'text' | 'json' {
  if (output === undefined || output === 'table' || output === 'text') return 'text';
  if (output === structured) return 'json';
  throw new ObservabilityUsageError(`-o ${output}: use table or json`);
}
