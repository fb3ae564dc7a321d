#!/usr/bin/env node
// Set-up, step 1 of 2: installs the npm packages (plain Node, nothing else is there yet), then hands
// over to scripts/setup.ts for Envoy, the filter build and the Wasm probe. Idempotent: each step checks
// first and says what it does. `npm run demo` and `npm test` call it before they start.
import { spawnSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const say = (message) => console.log(`[weir setup] ${message}`);

function run(command, args) {
  const result = spawnSync(command, args, { cwd: root, stdio: 'inherit' });
  if (result.status !== 0) {
    console.error(`[weir setup] failed: ${command} ${args.join(' ')} exited with ${result.status ?? result.signal}`);
    process.exit(1);
  }
}

const installedMarker = path.join(root, 'node_modules', '.package-lock.json');
const lockFile = path.join(root, 'package-lock.json');
if (!existsSync(installedMarker) || statSync(installedMarker).mtimeMs < statSync(lockFile).mtimeMs) {
  say('installing npm packages from package-lock.json (npm ci)');
  run('npm', ['ci', '--no-audit', '--no-fund']);
} else {
  say('npm packages: already installed');
}

run(path.join(root, 'node_modules', '.bin', 'tsx'), [path.join(root, 'scripts', 'setup.ts'), ...process.argv.slice(2)]);
