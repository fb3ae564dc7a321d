// Debian packages the set-up installs: one place that checks whether a package's files are there,
// and otherwise runs apt-get update and apt-get install as root, saying what it does. Every
// installer of a Debian package (memcached, netcat, iptables, docker.io, ...) goes through here.
import fs from 'node:fs';
import { runInstallCommand, sayOnConsole, type SetupReporter } from './setup-report.ts';

export interface DebianInstall {
  /** What the packages are for, e.g. `memcached`; starts each line the set-up prints. */
  what: string;
  packages: readonly string[];
  /** Files whose presence means the packages are installed, e.g. `/usr/bin/memcached`. */
  probes: readonly string[];
  say?: SetupReporter;
}

let updated = false;

/** Installs `packages` unless every probe file exists. Returns true when it installed something. */
export function installDebianPackages(install: DebianInstall): boolean {
  const say = install.say ?? sayOnConsole;
  if (install.probes.every((probe) => fs.existsSync(probe))) return false;
  const list = install.packages.join(' ');
  if (process.getuid?.() !== 0) {
    throw new Error(`[weir setup] ${install.what} is missing and installing it needs root: run \`sudo apt-get install -y ${list}\`, then the set-up again`);
  }
  const remedy = 'Check that the Debian mirror is reachable (apt-get update), then run the set-up again.';
  say(`${install.what}: installing the Debian package${install.packages.length === 1 ? '' : 's'} ${list} (apt-get install -y)`);
  if (!updated) {
    runInstallCommand({ command: 'apt-get', args: ['update', '-q'], remedy });
    updated = true;
  }
  runInstallCommand({ command: 'apt-get', args: ['install', '-y', '-q', '--no-install-recommends', ...install.packages], remedy });
  const missing = install.probes.filter((probe) => !fs.existsSync(probe));
  if (missing.length > 0) throw new Error(`[weir setup] ${install.what}: apt-get installed ${list} but ${missing.join(', ')} is still missing`);
  return true;
}
