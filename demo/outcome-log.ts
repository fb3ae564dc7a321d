// How the guide demos (fleet, Empire) show and check their steps: each step prints its prompt and
// output the way the guide shows a shell session and records whether the outcome matched; policy
// imports go through `weir policy import` and `weir policy wait` like a user's.
import path from 'node:path';
import { projectRoot } from './servers/project-paths.ts';
import type { GuardedServer } from './guarded-server.ts';
import type { Outcome } from './r2d2/scenario.ts';

export const say = (message: string): void => console.log(message);

export class OutcomeLog {
  readonly outcomes: Outcome[] = [];

  async step(step: string, prompt: string, run: () => Promise<string>, expected: string | RegExp): Promise<void> {
    say(prompt);
    const actual = await run();
    say(indent(actual === '' ? '(no output)' : actual));
    const ok = typeof expected === 'string' ? actual === expected : expected.test(actual);
    this.outcomes.push({ step, expected: show(expected), actual: show(actual), ok });
  }

  record(step: string, expected: string, actual: string): void {
    this.outcomes.push({ step, expected, actual, ok: expected === actual });
  }
}

/** `weir policy import ARGS`, then `weir policy wait` for its revision; both recorded as outcomes. */
export async function importAndWait(server: Pick<GuardedServer, 'weir'>, log: OutcomeLog, importArgs: string[], what: string): Promise<void> {
  const shown = importArgs.map((arg) => (path.isAbsolute(arg) ? path.relative(projectRoot, arg) : arg));
  say(`$ weir policy import ${shown.join(' ')}`);
  const imported = await server.weir(['policy', 'import', ...importArgs, '-o', 'json']);
  const revision = imported.code === 0 ? (JSON.parse(imported.stdout) as { revision: string }).revision : '';
  say(indent(imported.code === 0 ? `imported; revision ${revision}` : imported.stderr));
  log.record(`import ${what}`, 'exit 0', `exit ${imported.code}`);
  if (imported.code !== 0) return;
  say(`$ weir policy wait ${revision}`);
  const waited = await server.weir(['policy', 'wait', revision, '--timeout', '20']);
  say(indent(waited.code === 0 ? waited.stdout : waited.stderr));
  log.record(`${what} enforced (acknowledged by the Envoy's agent)`, 'exit 0', `exit ${waited.code}`);
}

export function heading(title: string): void {
  say(`\n== ${title} ==\n`);
}

export function indent(text: string): string {
  return text.replace(/\r\n/g, '\n').replace(/\n$/, '').split('\n').map((line) => `    ${line}`).join('\n');
}

function show(value: string | RegExp): string {
  return typeof value === 'string' ? JSON.stringify(value) : String(value);
}
