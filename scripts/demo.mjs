#!/usr/bin/env node
// `npm run demo [-- SCENARIO] [-- --check|--stay]`: the set-up for that demo only (scripts/setup.mjs
// --for demo:SCENARIO), then the demo itself (demo/main.ts) with the same arguments.
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const scenario = args.find((arg) => !arg.startsWith('-')) ?? 'r2d2';

const setup = spawnSync(process.execPath, [path.join(root, 'scripts', 'setup.mjs'), '--for', `demo:${scenario}`], { cwd: root, stdio: 'inherit' });
if (setup.status !== 0) process.exit(setup.status ?? 1);
const demo = spawnSync(path.join(root, 'node_modules', '.bin', 'tsx'), [path.join(root, 'demo', 'main.ts'), ...args], { cwd: root, stdio: 'inherit' });
process.exit(demo.status ?? 1);
