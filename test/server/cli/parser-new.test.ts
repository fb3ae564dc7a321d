// `weir parser new`: scaffolds a parser under a throw-away name in this checkout, proves that the
// build script picks it up, that the generated test passes as generated, and that names and
// existing folders are checked; removes every file it made afterwards.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runParserCommand } from '../../../server/cli/parser-command.ts';
import { ScaffoldError, scaffoldNames } from '../../../server/parser-scaffold/scaffold.ts';
import { repoRoot } from '../../filters/envoy-harness.ts';

const name = `scaffold-check-${process.pid}`;
const madePaths = [
  path.join('filters', 'parsers', name),
  path.join('test', 'filters', 'parsers', name),
  path.join('build', 'filters', `${name}.wasm`),
  path.join('build', 'filters', 'checked', `${name}.wasm`),
  path.join('build', 'filters', `${name}.rules.json`),
  path.join('build', 'filters', 'checked', `${name}.rules.json`),
  path.join('build', 'filters', `${name}.wasm.lock`), // left only if a builder was killed mid-way
  path.join('build', 'filters', 'checked', `${name}.wasm.lock`),
];

async function run(args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await runParserCommand(args, { out: (text) => (out += text), err: (text) => (err += text) });
  return { code, out, err };
}

describe('weir parser new', () => {
  afterAll(() => {
    for (const made of madePaths) rmSync(path.join(repoRoot, made), { recursive: true, force: true });
  });

  it('scaffolds a parser whose module builds and whose generated tests pass', async () => {
    const result = await run(['new', name]);
    expect(result.code).toBe(0);
    expect(result.out).toContain(`filters/parsers/${name}/parser.ts`);
    for (const file of ['index.ts', 'parser.ts', 'README.md']) expect(existsSync(path.join(repoRoot, 'filters', 'parsers', name, file))).toBe(true);
    expect(readFileSync(path.join(repoRoot, 'filters', 'parsers', name, 'parser.ts'), 'utf8')).toContain('class ScaffoldCheck');

    // The build script finds the new folder by itself: build everything's list, then just this one.
    execFileSync(process.execPath, ['scripts/build-filters.mjs', name], { cwd: repoRoot, stdio: 'pipe' });
    expect(existsSync(path.join(repoRoot, 'build', 'filters', `${name}.wasm`))).toBe(true);
    expect(existsSync(path.join(repoRoot, 'build', 'filters', 'checked', `${name}.wasm`))).toBe(true);

    const vitest = path.join(repoRoot, 'node_modules', 'vitest', 'vitest.mjs');
    const report = execFileSync(process.execPath, [vitest, 'run', `test/filters/parsers/${name}`], { cwd: repoRoot, encoding: 'utf8', env: { ...process.env, CI: '1', NO_COLOR: '1' } });
    expect(report).toMatch(/Tests\s+3 passed \(3\)/);
  }, 600_000);

  it('refuses to overwrite an existing parser', async () => {
    const result = await run(['new', 'r2d2']);
    expect(result.code).toBe(1);
    expect(result.err).toContain('filters/parsers/r2d2 already exists');
  });

  it.each([['Upper'], ['9lives'], ['has space'], ['sdk'], ['x'.repeat(41)]])('rejects the name %j', (bad) => {
    expect(() => scaffoldNames(bad)).toThrow(ScaffoldError);
  });

  it('derives the class name from the protocol name', () => {
    expect(scaffoldNames('redis-lite')).toEqual({ name: 'redis-lite', className: 'RedisLite' });
  });
});
