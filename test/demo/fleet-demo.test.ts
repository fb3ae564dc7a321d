// `npm run demo -- fleet --check` must keep working: run the Alliance fleet demo as a user would
// (its own memcached, `weir serve` and Envoy processes on free ports) and require every outcome
// of the guide's secure-fleet policy and the 1.3 release post's policy to match.
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { expect, it } from 'vitest';
import { projectRoot } from '../../demo/servers/project-paths.ts';

it('npm run demo -- fleet --check: every outcome of the Alliance fleet demo matches', () => {
  const result = spawnSync(path.join(projectRoot, 'node_modules', '.bin', 'tsx'), ['demo/main.ts', 'fleet', '--check'], {
    cwd: projectRoot,
    encoding: 'utf8',
    timeout: 150_000,
  });
  const output = `${result.stdout}\n${result.stderr}`;
  // The guide's denied outputs, as each client shows them.
  expect(output).toContain('x-wing $ echo -en "get awing-coord\\r\\nquit\\r\\n" | nc memcd-server 11211\n    CLIENT_ERROR access denied\n');
  expect(output).toContain('a-wing >>> client.get("xwing-coord")\n    Error: MemJS GET: Authentication error\n');
  expect(output).toContain('alliance-tracker >>> client.set("awing-coord", "0.0,0.0", time=2400)\n    Error: MemJS SET: Authentication error\n');
  // A meta-command read is allowed under `command: get`.
  expect(output).toContain('fleet-monitoring $ echo -en "mg alliance/fleet/x-wing v\\r\\n" | nc memcd-server 11211\n    VA 10\n    hyperspace\n');
  expect(output).not.toMatch(/^FAIL /m);
  expect(output).toContain('demo fleet: every outcome matched');
  expect(result.status, output).toBe(0);
}, 180_000);
