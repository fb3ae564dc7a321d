// The `weir` command line: parses arguments into each command's typed options object and runs it.
// Commands: serve, bootstrap, proxy list. Exit codes: 0 ok, 1 the command failed, 2 bad usage.
import { parseArgs } from 'node:util';
import { ConfigError } from '../config/weir-config.ts';
import { createLogger } from '../log/logger.ts';
import { renderBootstrap, type BootstrapOptions } from '../xds/bootstrap.ts';
import { proxyList } from './proxy-command.ts';
import { runServe } from './serve-command.ts';

const USAGE = `usage:
  weir serve [--config FILE]                  run the xDS control server (default config weir.yaml);
                                              SIGHUP reloads the config and parser modules
  weir bootstrap [--node-id ID] [--cluster C] [--xds HOST:PORT] [--admin-port N] [--delta]
                                              print an Envoy bootstrap that uses this server
  weir proxy list [--status HOST:PORT] [--json]
                                              show each proxy's sent, ACKed and NACKed versions`;

class UsageError extends Error {}

export async function runCli(argv: readonly string[]): Promise<number> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case 'serve':
        return await serveUntilSignalled(rest);
      case 'bootstrap':
        process.stdout.write(renderBootstrap(bootstrapOptionsFrom(rest)));
        return 0;
      case 'proxy':
        return await proxySubcommand(rest);
      case undefined:
      case 'help':
      case '--help':
        process.stdout.write(`${USAGE}\n`);
        return command === undefined ? 2 : 0;
      default:
        throw new UsageError(`unknown command "${command}"`);
    }
  } catch (error) {
    if (error instanceof UsageError) {
      process.stderr.write(`weir: ${error.message}\n${USAGE}\n`);
      return 2;
    }
    process.stderr.write(`weir ${command}: ${error instanceof ConfigError || error instanceof Error ? error.message : String(error)}\n`);
    return 1;
  }
}

async function serveUntilSignalled(args: readonly string[]): Promise<number> {
  const { values } = parseStrict(args, { config: { type: 'string' } });
  const logger = createLogger();
  const running = await runServe({ logger, ...(values.config !== undefined ? { configFile: values.config } : {}) });
  const reload = (): void => {
    try {
      running.reload();
    } catch (error) {
      logger.error({ error: error instanceof Error ? error.message : String(error) }, 'config reload failed; the previous config stays in force');
    }
  };
  process.on('SIGHUP', reload);
  await new Promise<void>((resolve) => {
    const stop = (signal: NodeJS.Signals): void => {
      logger.info({ signal }, 'stopping weir serve');
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      process.off('SIGHUP', reload);
      resolve();
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
  await running.stop();
  return 0;
}

export function bootstrapOptionsFrom(args: readonly string[]): BootstrapOptions {
  const { values } = parseStrict(args, {
    'node-id': { type: 'string' },
    cluster: { type: 'string' },
    xds: { type: 'string' },
    'admin-port': { type: 'string' },
    delta: { type: 'boolean' },
  });
  const options: BootstrapOptions = {};
  if (values['node-id'] !== undefined) options.nodeId = values['node-id'];
  if (values.cluster !== undefined) options.cluster = values.cluster;
  if (values.xds !== undefined) {
    const { host, port } = hostAndPort(values.xds, '--xds');
    options.xdsAddress = host;
    options.xdsPort = port;
  }
  if (values['admin-port'] !== undefined) options.adminPort = integerArgument(values['admin-port'], '--admin-port');
  if (values.delta) options.variant = 'delta';
  return options;
}

async function proxySubcommand(args: readonly string[]): Promise<number> {
  const [subcommand, ...rest] = args;
  if (subcommand !== 'list') throw new UsageError(`unknown proxy subcommand "${subcommand ?? ''}"; use "weir proxy list"`);
  const { values } = parseStrict(rest, { status: { type: 'string' }, json: { type: 'boolean' } });
  const output = await proxyList({
    ...(values.status !== undefined ? { status: values.status } : {}),
    format: values.json ? 'json' : 'table',
  });
  process.stdout.write(`${output}\n`);
  return 0;
}

type OptionSpec = Record<string, { type: 'string' } | { type: 'boolean' }>;

function parseStrict<T extends OptionSpec>(args: readonly string[], options: T) {
  try {
    return parseArgs({ args: [...args], options, strict: true, allowPositionals: false });
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
}

function hostAndPort(value: string, flag: string): { host: string; port: number } {
  const separator = value.lastIndexOf(':');
  if (separator <= 0) throw new UsageError(`${flag} ${value}: expected HOST:PORT, e.g. 127.0.0.1:18000`);
  const host = value.slice(0, separator).replace(/^\[(.*)\]$/, '$1');
  return { host, port: integerArgument(value.slice(separator + 1), flag) };
}

function integerArgument(value: string, flag: string): number {
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < 0 || parsed > 65535) throw new UsageError(`${flag} ${value}: expected a port number 0-65535`);
  return parsed;
}
