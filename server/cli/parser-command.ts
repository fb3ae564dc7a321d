// `weir parser new <name>` and `weir parser test <name> <script-file>`: the parser authoring
// commands. `new` scaffolds a parser and its test (server/parser-scaffold/scaffold.ts); `test`
// builds the parser's checked module (scripts/build-filters.mjs) and runs a byte script through
// the Proxy-Wasm test host (server/parser-scaffold/script-runner.ts), printing ops, bytes and logs.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ByteScriptError, parseByteScript } from '../parser-scaffold/byte-script.ts';
import { ScaffoldError, scaffoldParser } from '../parser-scaffold/scaffold.ts';
import { formatScriptReport, runByteScript } from '../parser-scaffold/script-runner.ts';
import { helpFor } from './usage.ts';


export interface ParserCommandOptions {
  repoRoot?: string; // default: this checkout
  out?: (text: string) => void; // default: stdout
  err?: (text: string) => void; // default: stderr
}

const defaultRepoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

// Returns the exit code: 0 ok, 1 the command failed, 2 bad usage.
export async function runParserCommand(args: readonly string[], options: ParserCommandOptions = {}): Promise<number> {
  const repoRoot = options.repoRoot ?? defaultRepoRoot;
  const out = options.out ?? ((text: string) => process.stdout.write(text));
  const err = options.err ?? ((text: string) => process.stderr.write(text));
  const [subcommand, name, scriptFile, ...extra] = args;
  try {
    if (subcommand === 'new' && name !== undefined && scriptFile === undefined) {
      const { files } = scaffoldParser({ name, repoRoot });
      out(`created:\n${files.map((file) => `  ${file}`).join('\n')}\nnext: npm run build:filters && npx vitest run test/filters/parsers/${name}\n`);
      return 0;
    }
    if (subcommand === 'test' && name !== undefined && scriptFile !== undefined && extra.length === 0) {
      out(testParser(repoRoot, name, scriptFile));
      return 0;
    }
    err(`weir parser: expected "new NAME" or "test NAME SCRIPT"\n${helpFor(['parser'])}\n`);
    return 2;
  } catch (error) {
    if (error instanceof ScaffoldError || error instanceof ByteScriptError || error instanceof ParserTestError) {
      err(`weir parser ${subcommand}: ${error.message}\n`);
      return 1;
    }
    throw error;
  }
}

class ParserTestError extends Error {}

function testParser(repoRoot: string, name: string, scriptFile: string): string {
  if (!existsSync(path.join(repoRoot, 'filters', 'parsers', name, 'index.ts'))) {
    throw new ParserTestError(`no parser "${name}": filters/parsers/${name}/index.ts does not exist (create one with "weir parser new ${name}")`);
  }
  if (!existsSync(scriptFile)) throw new ParserTestError(`script file ${scriptFile} does not exist`);
  const script = parseByteScript(readFileSync(scriptFile, 'latin1'), scriptFile);
  buildParser(repoRoot, name);
  const wasm = path.join(repoRoot, 'build', 'filters', 'checked', `${name}.wasm`);
  return formatScriptReport(runByteScript({ wasm, protocol: name, script }));
}

function buildParser(repoRoot: string, name: string): void {
  try {
    execFileSync(process.execPath, [path.join(repoRoot, 'scripts', 'build-filters.mjs'), name], { cwd: repoRoot, stdio: 'pipe' });
  } catch (error) {
    const output = error instanceof Error && 'stdout' in error ? `${String(error.stdout)}${String((error as { stderr?: unknown }).stderr ?? '')}` : String(error);
    throw new ParserTestError(`building ${name} failed:\n${output}`);
  }
}
