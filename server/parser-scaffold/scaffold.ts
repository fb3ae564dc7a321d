// `weir parser new <name>`: writes a new parser folder and its test from templates.ts. Checks the
// name (it becomes the folder, the module name, root_id and the "parser" of plugin configurations)
// and refuses to overwrite anything. Building is left to scripts/build-filters.mjs, which picks up
// every filters/parsers/<name>/index.ts by itself.
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { INDEX_TEMPLATE, PARSER_TEMPLATE, README_TEMPLATE, RULE_KEYS_TEMPLATE, TEST_TEMPLATE, renderTemplate, type ScaffoldNames } from './templates.ts';

export interface ScaffoldOptions {
  name: string;
  repoRoot: string;
}

export interface ScaffoldResult {
  files: string[]; // paths relative to repoRoot, in the order written
}

export class ScaffoldError extends Error {}

const NAME_PATTERN = /^[a-z][a-z0-9-]{0,39}$/;
const RESERVED_NAMES = new Set(['sdk', 'testparsers', 'probe', 'agent', 'checked']);

export function scaffoldParser(options: ScaffoldOptions): ScaffoldResult {
  const names = scaffoldNames(options.name);
  const parserDir = path.join('filters', 'parsers', names.name);
  const testDir = path.join('test', 'filters', 'parsers', names.name);
  for (const dir of [parserDir, testDir]) {
    if (existsSync(path.join(options.repoRoot, dir))) throw new ScaffoldError(`${dir} already exists; pick another name or remove it first`);
  }
  const files: Array<[string, string]> = [
    [path.join(parserDir, 'index.ts'), INDEX_TEMPLATE],
    [path.join(parserDir, 'parser.ts'), PARSER_TEMPLATE],
    [path.join(parserDir, 'rule-keys.ts'), RULE_KEYS_TEMPLATE],
    [path.join(parserDir, 'README.md'), README_TEMPLATE],
    [path.join(testDir, `${names.name}.test.ts`), TEST_TEMPLATE],
  ];
  for (const [file, template] of files) {
    mkdirSync(path.dirname(path.join(options.repoRoot, file)), { recursive: true });
    writeFileSync(path.join(options.repoRoot, file), renderTemplate(template, names), { flag: 'wx' });
  }
  return { files: files.map(([file]) => file) };
}

// The protocol name and the AssemblyScript class prefix derived from it ("redis-lite" -> "RedisLite").
export function scaffoldNames(name: string): ScaffoldNames {
  if (!NAME_PATTERN.test(name)) {
    throw new ScaffoldError(`parser name "${name}" must be lower-case letters, digits and "-", starting with a letter, at most 40 characters`);
  }
  if (RESERVED_NAMES.has(name)) throw new ScaffoldError(`parser name "${name}" is reserved`);
  const className = name
    .split('-')
    .filter((part) => part.length > 0)
    .map((part) => part[0]?.toUpperCase() + part.slice(1))
    .join('');
  return { name, className };
}
