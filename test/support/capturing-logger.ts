// A Weir logger (server/log/logger.ts) whose JSON lines tests can read back as objects. Test helper.
import { Writable } from 'node:stream';
import { createLogger } from '../../server/log/logger.ts';
import type { Logger } from 'pino';

export function capturingLogger(level: 'debug' | 'info' = 'info'): { logger: Logger; entries: Array<Record<string, unknown>> } {
  const entries: Array<Record<string, unknown>> = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split('\n').filter(Boolean)) entries.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  return { logger: createLogger({ level, destination }), entries };
}
