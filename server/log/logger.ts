// Builds the pino loggers every server component writes to: JSON lines on stdout by default, one
// options object with its defaults here. Components take a Logger as a parameter (never a global),
// so tests can capture entries with a destination stream.
import { pino, type DestinationStream, type Logger } from 'pino';

export type { Logger } from 'pino';

export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';

export interface LoggerOptions {
  /** Lowest level written. Default: env WEIR_LOG_LEVEL, else 'info'. */
  level?: LogLevel;
  /** Value of the `name` field on every entry. Default 'weir'. */
  name?: string;
  /** Where JSON lines go. Default: stdout. */
  destination?: DestinationStream;
}

const LOG_LEVELS: readonly LogLevel[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

export function createLogger(options: LoggerOptions = {}): Logger {
  const level = options.level ?? levelFromEnvironment();
  const settings = { name: options.name ?? 'weir', level };
  return options.destination ? pino(settings, options.destination) : pino(settings);
}

/** A logger that writes nothing, for library callers that did not pass one. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}

function levelFromEnvironment(): LogLevel {
  const fromEnv = process.env.WEIR_LOG_LEVEL;
  if (fromEnv === undefined || fromEnv === '') return 'info';
  const match = LOG_LEVELS.find((level) => level === fromEnv);
  if (!match) {
    throw new Error(`WEIR_LOG_LEVEL=${fromEnv} is not a log level; use one of ${LOG_LEVELS.join(', ')}`);
  }
  return match;
}
