// `npm run demo -- --check` must keep working: run the demo script as a user would (its own
// processes, the demo's fixed ports) and require every outcome to match.
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { expect, it } from 'vitest';
import { projectRoot } from '../../demo/servers/project-paths.ts';

it('npm run demo -- --check: every outcome of the r2d2 demo matches', () => {
  const result = spawnSync(path.join(projectRoot, 'node_modules', '.bin', 'tsx'), ['demo/main.ts', '--check'], {
    cwd: projectRoot,
    encoding: 'utf8',
    timeout: 90_000,
  });
  const output = `${result.stdout}\n${result.stderr}`;
  expect(output).toContain('client <- ERROR');
  expect(output).toContain('demo r2d2: every outcome matched');
  expect(result.status, output).toBe(0);
}, 120_000);
