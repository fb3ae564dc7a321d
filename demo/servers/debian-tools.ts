// Command-line clients and load generators from Debian that tests and benchmarks run as real
// programs: curl (the HTTP tests) and h2load from nghttp2-client (`npm run bench:http`).
// installDebianTool() apt-installs one when its binary is missing; the set-up calls it.
import fs from 'node:fs';
import { runInstallCommand, sayOnConsole } from './setup-report.ts';

export interface DebianTool {
  /** What the set-up says, e.g. "curl". */
  name: string;
  binary: string;
  packages: readonly string[];
  /** Who needs it, for the messages. */
  neededBy: string;
}

export const CURL: DebianTool = { name: 'curl', binary: '/usr/bin/curl', packages: ['curl'], neededBy: 'the HTTP policy tests' };
export const H2LOAD: DebianTool = { name: 'h2load', binary: '/usr/bin/h2load', packages: ['nghttp2-client'], neededBy: 'npm run bench:http' };

export function installDebianTool(tool: DebianTool, options: { say?: (message: string) => void } = {}): void {
  const say = options.say ?? sayOnConsole;
  if (fs.existsSync(tool.binary)) {
    say(`${tool.name}: already installed (${tool.binary})`);
    return;
  }
  const packages = tool.packages.join(' ');
  if (process.getuid?.() !== 0) {
    throw new Error(`[weir setup] ${tool.name} (for ${tool.neededBy}) is missing and installing it needs root: run \`sudo apt-get install -y ${packages}\`, then the set-up again`);
  }
  const remedy = 'Check that the Debian mirror is reachable (apt-get update), then run the set-up again.';
  say(`${tool.name}: installing the Debian package${tool.packages.length > 1 ? 's' : ''} ${packages} for ${tool.neededBy} (apt-get update, apt-get install -y)`);
  runInstallCommand({ command: 'apt-get', args: ['update', '-q'], remedy });
  runInstallCommand({ command: 'apt-get', args: ['install', '-y', '-q', ...tool.packages], remedy });
  if (!fs.existsSync(tool.binary)) throw new Error(`[weir setup] installed ${packages} but ${tool.binary} is still missing. ${remedy}`);
  say(`${tool.name}: installed (${tool.binary})`);
}
