// How a CLI command reports that it failed: the message a person reads on stderr and the exit
// status scripts test (docs/cli.md). Also turns an API error reply into such a failure.
import type { ApiErrorBody } from '../api/api-types.ts';
import { jsonOf, type ApiReply } from './api-client.ts';

export const EXIT_CODES = {
  ok: 0,
  failed: 1,
  usage: 2,
  /** `weir policy wait`: a proxy rejected (NACKed) the policy. */
  rejected: 3,
  /** `weir policy wait`: not every proxy enforced the revision in time. */
  timedOut: 4,
} as const;

export class CommandFailure extends Error {
  constructor(
    message: string,
    readonly exitCode: number = EXIT_CODES.failed,
  ) {
    super(message);
    this.name = 'CommandFailure';
  }
}

/** The reply's JSON body when the status is 2xx; otherwise a CommandFailure with the server's message and problems. */
export function successBody<T>(reply: ApiReply, exitCodes: Readonly<Record<number, number>> = {}): T {
  const body = jsonOf<T>(reply);
  if (reply.status >= 200 && reply.status < 300) return body as T;
  const error = body as ApiErrorBody;
  const lines = [error.error ?? `HTTP ${reply.status}`, ...(error.problems ?? []).map((problem) => `  ${problem}`)];
  throw new CommandFailure(lines.join('\n'), exitCodes[reply.status] ?? EXIT_CODES.failed);
}
