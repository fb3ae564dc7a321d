// Each parser's release .wasm stays within 10% of the size recorded in test/filters/wasm-sizes.json,
// so that growth (a new dependency on String formatting, a table built at run time, an SDK change)
// is a reviewed change: update the recorded size in the same commit and say why.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildFilters, repoRoot } from '../envoy-harness.ts';

interface RecordedSizes {
  tolerance: number;
  releaseBytes: Record<string, number>;
}

const recorded = JSON.parse(readFileSync(path.join(repoRoot, 'test', 'filters', 'wasm-sizes.json'), 'utf8')) as RecordedSizes;
// Parsers scaffolded for a moment by test/server/cli/parser-new.test.ts are not tracked.
// The HTTP filter (filters/http) is tracked beside the parsers.
const parsers = [
  ...readdirSync(path.join(repoRoot, 'filters', 'parsers'), { withFileTypes: true })
    .filter((entry) => entry.isDirectory() && !entry.name.startsWith('scaffold-check-'))
    .map((entry) => entry.name),
  'http',
].sort();

describe('release .wasm sizes', () => {
  beforeAll(() => buildFilters(...parsers), 600_000);

  it.each(parsers)('%s is within the recorded size', (name) => {
    const expected = recorded.releaseBytes[name];
    const actual = statSync(path.join(repoRoot, 'build', 'filters', `${name}.wasm`)).size;
    const hint = `build/filters/${name}.wasm is ${actual} bytes; recorded ${expected ?? 'nothing'} in test/filters/wasm-sizes.json. If the change is intended, record the new size there in the same commit.`;
    expect(expected, hint).toBeDefined();
    expect(Math.abs(actual - (expected ?? 0)) / (expected ?? 1), hint).toBeLessThanOrEqual(recorded.tolerance);
  });
});
