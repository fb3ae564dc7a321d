// How installers say what they do: one `[weir setup] ...` line per step, on stdout unless the caller
// passes its own sink. Also runs the external commands an install step needs and turns a failure
// into an error that names the command and what to try next.
import { spawnSync } from 'node:child_process';

export type SetupReporter = (message: string) => void;

export const sayOnConsole: SetupReporter = (message) => console.log(`[weir setup] ${message}`);

export interface InstallCommand {
  command: string;
  args: string[];
  /** What the user can do when the command fails, appended to the error. */
  remedy: string;
  cwd?: string;
  /** The command's environment; default this process's. */
  env?: NodeJS.ProcessEnv;
}

/** Runs a command with its output on this terminal; throws if it does not exit with status 0. */
export function runInstallCommand({ command, args, remedy, cwd, env }: InstallCommand): void {
  const result = spawnSync(command, args, { cwd, env, stdio: ['ignore', 'inherit', 'inherit'] });
  if (result.error !== undefined) {
    throw new Error(`[weir setup] could not run ${command}: ${result.error.message}. ${remedy}`);
  }
  if (result.status !== 0) {
    const outcome = result.status === null ? `was killed by ${result.signal}` : `exited with status ${result.status}`;
    throw new Error(`[weir setup] ${command} ${args.join(' ')} ${outcome}. ${remedy}`);
  }
}
