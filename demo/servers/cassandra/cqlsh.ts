// cqlsh, Cassandra's Python shell, from PyPI into the project virtualenv (.venv/bin/cqlsh), and a
// helper that runs one CQL string against a node and returns what cqlsh printed. Idempotent: an
// existing .venv/bin/cqlsh is kept. Starting Cassandra is runner.ts's job.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { projectVenv } from '../project-paths.ts';
import { runInstallCommand, sayOnConsole, type SetupReporter } from '../setup-report.ts';

export interface InstallCqlshOptions {
  /** The virtualenv to install into; default `<repo>/.venv` (created if missing). */
  venvDir?: string;
  say?: SetupReporter;
}

export function cqlshBinary(venvDir: string = projectVenv): string {
  return path.join(venvDir, 'bin', 'cqlsh');
}

/** Installs cqlsh into the virtualenv unless it is already there; returns the path of cqlsh. */
export function installCqlsh(options: InstallCqlshOptions = {}): string {
  const say = options.say ?? sayOnConsole;
  const venvDir = options.venvDir ?? projectVenv;
  const binary = cqlshBinary(venvDir);
  if (fs.existsSync(binary)) {
    say(`cqlsh: already in ${path.relative(process.cwd(), binary) || binary}`);
    return binary;
  }
  const pip = path.join(venvDir, 'bin', 'pip');
  if (!fs.existsSync(pip)) {
    say(`creating the project virtualenv ${venvDir} (python3 -m venv)`);
    runInstallCommand({ command: 'python3', args: ['-m', 'venv', venvDir], remedy: 'Install python3 and python3-venv (apt-get install -y python3-venv), then run the set-up again.' });
  }
  say('cqlsh: installing from PyPI into the project virtualenv (pip install cqlsh, about 20 s)');
  runInstallCommand({
    command: pip,
    args: ['install', '--quiet', '--disable-pip-version-check', 'cqlsh'],
    remedy: 'Check that PyPI (pypi.org) is reachable, then run the set-up again.',
  });
  return binary;
}

export interface CqlshRun {
  host: string;
  port: number;
  /** CQL to run, e.g. "SELECT release_version FROM system.local". */
  execute: string;
  /** Force a native protocol version (cqlsh otherwise negotiates the highest both sides speak). */
  protocolVersion?: 3 | 4 | 5;
  venvDir?: string;
  timeoutMs?: number;
}

export interface CqlshResult {
  exitCode: number | null;
  stdout: string;
  stderr: string;
}

export function runCqlsh({ host, port, execute, protocolVersion, venvDir, timeoutMs = 30_000 }: CqlshRun): Promise<CqlshResult> {
  const args = [host, String(port), '--no-color', '--connect-timeout=10', `--request-timeout=${Math.ceil(timeoutMs / 1000)}`, '-e', execute];
  if (protocolVersion !== undefined) args.push(`--protocol-version=${protocolVersion}`);
  return new Promise((resolve, reject) => {
    const child = spawn(cqlshBinary(venvDir), args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    const timer = setTimeout(() => {
      if (child.pid !== undefined) process.kill(child.pid, 'SIGKILL');
    }, timeoutMs + 5_000);
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(new Error(`could not run ${cqlshBinary(venvDir)}: ${error.message}; run installCqlsh() (npm run setup) first`));
    });
    child.once('close', (exitCode) => {
      clearTimeout(timer);
      resolve({ exitCode, stdout, stderr });
    });
  });
}
