// Builds every Weir Wasm filter: each `filters/parsers/<name>/index.ts` and the HTTP filter
// `filters/http/index.ts` into `build/filters/<name>.wasm` (release) and
// `build/filters/checked/<name>.wasm` (the same with
// `--uncheckedBehavior never`, for test runs), plus the lead's `filters/probe/index.ts` when present.
// Owns the AssemblyScript flags that make a module load in Envoy's V8 runtime (see
// docs/parser-sdk.md "Build") and checks each module's imports against what Envoy provides.
// It does not run anything; tests and the control server consume the .wasm files.
import { readdir, mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { execFile } from 'node:child_process';
import os from 'node:os';

const ascBin = fileURLToPath(new URL('../node_modules/assemblyscript/bin/asc.js', import.meta.url));
const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const outDir = path.join(repoRoot, 'build', 'filters');
const checkedDir = path.join(outDir, 'checked');
// The built-in parsers' declarations the control server compiles their policies from
// (server/policy/l7/built-in-declarations.ts): refreshed from each build of those parsers.
const builtInDeclarationsDir = path.join(repoRoot, 'server', 'policy', 'l7', 'declarations');

// Every import a module may have: Proxy-Wasm 0.2.1 host calls live in `env`; WASI calls that
// proxy-wasm-cpp-host provides live in `wasi_snapshot_preview1`. Anything else (env.abort,
// env.seed, env.trace, ...) makes Envoy refuse to load the module.
const ENVOY_IMPORT_MODULES = new Set(['wasi_snapshot_preview1', 'wasi_unstable']);
const isEnvoyImport = (imp) => (imp.module === 'env' && imp.name.startsWith('proxy_')) || ENVOY_IMPORT_MODULES.has(imp.module);
const REQUIRED_EXPORTS = ['proxy_abi_version_0_2_1', 'proxy_on_memory_allocate', 'memory', 'proxy_on_context_create'];

// Flags shared by every build. `--debug` keeps the names section (function names in Envoy's
// in-VM backtrace) even at -O3; `--exportStart _initialize` runs top-level code as a WASI
// reactor initializer instead of a start section that would run before Envoy set a context.
// The runtime is per target (`runtime` below): parsers use `minimal` (no shadow stack, about half
// the cost per data callback; filters/sdk/abi/garbage-collection.ts collects between callbacks),
// the agent and the probe keep `incremental`, which collects by itself.
const COMMON_FLAGS = [
  '-O3',
  '--debug',
  '--exportStart', '_initialize',
  '--noAssert',
];

async function listTargets() {
  const targets = [];
  const parsersDir = path.join(repoRoot, 'filters', 'parsers');
  const entries = existsSync(parsersDir) ? await readdir(parsersDir, { withFileTypes: true }) : [];
  for (const entry of entries.sort((a, b) => a.name.localeCompare(b.name))) {
    const entryFile = path.join(parsersDir, entry.name, 'index.ts');
    // The SDK's global handler logs at critical before the trap (filters/sdk/module/abort.ts).
    if (entry.isDirectory() && existsSync(entryFile)) targets.push({ name: entry.name, entryFile, abortHandler: 'weirAbort', runtime: 'minimal' });
  }
  // The HTTP filter (filters/http: Envoy's HTTP connection manager parses, Weir decides) uses the
  // SDK like a parser.
  const httpEntry = path.join(repoRoot, 'filters', 'http', 'index.ts');
  if (existsSync(httpEntry)) targets.push({ name: 'http', entryFile: httpEntry, abortHandler: 'weirAbort', runtime: 'minimal' });
  // The SDK's toy parsers (filters/sdk/testparsers/<name>/index.ts), built for SDK tests only.
  const toysDir = path.join(repoRoot, 'filters', 'sdk', 'testparsers');
  const toys = existsSync(toysDir) ? await readdir(toysDir, { withFileTypes: true }) : [];
  for (const entry of toys.sort((a, b) => a.name.localeCompare(b.name))) {
    const entryFile = path.join(toysDir, entry.name, 'index.ts');
    if (entry.isDirectory() && existsSync(entryFile)) targets.push({ name: `testparsers/${entry.name}`, entryFile, abortHandler: 'weirAbort', runtime: 'minimal' });
  }
  const probeEntry = path.join(repoRoot, 'filters', 'probe', 'index.ts');
  // The probe is independent of the SDK and brings its own handler.
  if (existsSync(probeEntry)) targets.push({ name: 'probe', entryFile: probeEntry, abortHandler: 'filters/probe/index/probeAbort', runtime: 'incremental' });
  // The Weir agent (a Wasm service, not a parser) uses the SDK's ABI glue and has its own handler.
  const agentEntry = path.join(repoRoot, 'filters', 'agent', 'index.ts');
  if (existsSync(agentEntry)) targets.push({ name: 'agent', entryFile: agentEntry, abortHandler: 'agentAbort', runtime: 'incremental' });
  return targets;
}

// Runs the asc binary in a child process, so that several modules compile in parallel.
// Several test processes may build the same module at once; the first one compiles while the
// others wait on its lock and then find the module up to date.
async function compile(target, outFile, extraFlags) {
  const lock = await acquireLock(outFile);
  try {
    await compileUnlocked(target, outFile, extraFlags);
  } finally {
    await rm(lock, { recursive: true, force: true });
  }
}

const STALE_LOCK_MS = 10 * 60 * 1000;

async function acquireLock(outFile) {
  const lock = `${outFile}.lock`;
  for (;;) {
    try {
      await mkdir(lock);
      await writeFile(path.join(lock, 'pid'), String(process.pid));
      return lock;
    } catch (err) {
      if (err.code !== 'EEXIST') throw err;
      if (await lockIsAbandoned(lock)) await rm(lock, { recursive: true, force: true });
      else await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }
}

// A lock is abandoned when the build that took it is gone (killed) or it is very old.
async function lockIsAbandoned(lock) {
  const info = await stat(lock).catch(() => undefined);
  if (info === undefined) return false;
  if (Date.now() - info.mtimeMs > STALE_LOCK_MS) return true;
  const owner = Number(await readFile(path.join(lock, 'pid'), 'utf8').catch(() => ''));
  if (!Number.isInteger(owner) || owner <= 0) return Date.now() - info.mtimeMs > 5000; // pid not written yet
  try {
    process.kill(owner, 0);
    return false;
  } catch (err) {
    return err.code === 'ESRCH';
  }
}

async function compileUnlocked(target, outFile, extraFlags) {
  if (await isUpToDate(target, outFile)) {
    console.log(`build-filters: ${path.relative(repoRoot, outFile)} is up to date`);
    return;
  }
  // Compile to a private file and rename it into place, so that test processes building at the
  // same time never load a half-written module.
  const tempFile = `${outFile.slice(0, -".wasm".length)}.${process.pid}.tmp.wasm`;
  const args = [ascBin, path.relative(repoRoot, target.entryFile), '-o', path.relative(repoRoot, tempFile), ...COMMON_FLAGS, '--runtime', target.runtime, '--use', `abort=${target.abortHandler}`, ...extraFlags];
  const diagnostics = await new Promise((resolve, reject) => {
    execFile(process.execPath, args, { cwd: repoRoot, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      const text = `${stdout}${stderr}`;
      if (err) void rm(tempFile, { force: true }).finally(() => reject(new Error(`build-filters: compiling ${path.relative(repoRoot, target.entryFile)} failed:\n${text}`)));
      else resolve(text);
    });
  });
  if (diagnostics.trim().length > 0) process.stdout.write(diagnostics);
  try {
    await checkModule(tempFile, outFile);
    await writeRuleKeysManifest(tempFile, outFile);
  } catch (err) {
    await rm(tempFile, { force: true });
    throw err;
  }
  await rename(tempFile, outFile);
  await report(target, outFile);
}


// A module is up to date when it is newer than this script and every .ts file it can import
// (its own folder, and filters/sdk/ unless it is the SDK-independent probe).
async function isUpToDate(target, outFile) {
  if (!existsSync(outFile)) return false;
  const built = (await stat(outFile)).mtimeMs;
  const sourceDirs = [path.dirname(target.entryFile)];
  if (target.name !== 'probe') sourceDirs.push(path.join(repoRoot, 'filters', 'sdk'));
  const newest = Math.max((await stat(fileURLToPath(import.meta.url))).mtimeMs, ...(await Promise.all(sourceDirs.map(newestSourceTime))));
  return built > newest;
}

async function newestSourceTime(dir) {
  let newest = 0;
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile() || !entry.name.endsWith('.ts')) continue;
    newest = Math.max(newest, (await stat(path.join(entry.parentPath ?? entry.path, entry.name))).mtimeMs);
  }
  return newest;
}

async function checkModule(builtFile, outFile) {
  const module = await WebAssembly.compile(await readFile(builtFile));
  const foreign = WebAssembly.Module.imports(module).filter((imp) => !isEnvoyImport(imp));
  if (foreign.length > 0) {
    const names = foreign.map((imp) => `${imp.module}.${imp.name}`).join(', ');
    throw new Error(`build-filters: ${path.relative(repoRoot, outFile)} imports ${names}, which Envoy does not provide; remove the code that needs them (console.log, Math.random, Date.now, trace, ...)`);
  }
  const exported = new Set(WebAssembly.Module.exports(module).map((exp) => exp.name));
  const missing = REQUIRED_EXPORTS.filter((name) => !exported.has(name));
  if (missing.length > 0) {
    throw new Error(`build-filters: ${path.relative(repoRoot, outFile)} lacks exports ${missing.join(', ')}; the entry file must \`export * from '../../sdk/module/exports'\``);
  }
}

// A parser's rule-key declaration (filters/sdk/rule-keys.ts), which its module returns from the
// export `weir_rule_keys`, written beside the module as `<name>.rules.json`: the control server
// learns the rule keys of every parser in filters.dir from these files. The module runs here with
// every host call stubbed (returning 0): only its initializer and that export run, and neither
// calls the host. A module without the export (the agent, the probe, the HTTP filter) or with an
// empty declaration gets no manifest. A parser Weir ships (its declaration tracked in
// server/policy/l7/declarations/) gets that copy rewritten too, so the server enforces what the
// parser declares.
async function writeRuleKeysManifest(builtFile, outFile) {
  const manifestFile = `${outFile.slice(0, -'.wasm'.length)}.rules.json`;
  const module = await WebAssembly.compile(await readFile(builtFile));
  if (!WebAssembly.Module.exports(module).some((exp) => exp.name === 'weir_rule_keys')) {
    await rm(manifestFile, { force: true });
    return;
  }
  const imports = {};
  for (const imp of WebAssembly.Module.imports(module)) {
    if (imp.kind !== 'function') continue;
    imports[imp.module] ??= {};
    imports[imp.module][imp.name] = () => 0;
  }
  const { exports } = await WebAssembly.instantiate(module, imports);
  if (typeof exports._initialize === 'function') exports._initialize();
  const pointer = exports.weir_rule_keys() >>> 0;
  const memory = new Uint8Array(exports.memory.buffer);
  // AssemblyScript's object header keeps the byte length just before the data.
  const length = new DataView(exports.memory.buffer).getUint32(pointer - 4, true);
  const text = new TextDecoder().decode(memory.subarray(pointer, pointer + length));
  if (text.length === 0) {
    await rm(manifestFile, { force: true });
    return;
  }
  JSON.parse(text); // a malformed declaration fails the build here, not the server later
  await writeFileAtomically(manifestFile, `${text}\n`);
  const builtInCopy = path.join(builtInDeclarationsDir, path.basename(manifestFile));
  if (path.dirname(outFile) === outDir && existsSync(builtInCopy) && (await readFile(builtInCopy, 'utf8')) !== `${text}\n`) await writeFileAtomically(builtInCopy, `${text}\n`);
}

async function writeFileAtomically(file, text) {
  const temp = `${file}.${process.pid}.tmp`;
  await writeFile(temp, text);
  await rename(temp, file);
}

async function main() {
  const started = Date.now();
  await mkdir(path.join(checkedDir, 'testparsers'), { recursive: true });
  await mkdir(path.join(outDir, 'testparsers'), { recursive: true });
  const args = process.argv.slice(2);
  // --release-only: what a deployment loads (the Dockerfile), without the test variants.
  const releaseOnly = args.includes('--release-only');
  const targets = selectTargets(await listTargets(), args.filter((arg) => arg !== '--release-only'));
  if (targets.length === 0) console.log('build-filters: no filters/parsers/<name>/index.ts found; nothing to build');
  const jobs = [];
  for (const target of targets) {
    const releaseFile = path.join(outDir, `${target.name}.wasm`);
    const checkedFile = path.join(checkedDir, `${target.name}.wasm`);
    // Toy parsers exist only for tests: the checked variant is enough.
    if (!target.name.startsWith('testparsers/')) jobs.push(() => compile(target, releaseFile, []));
    if (!releaseOnly) jobs.push(() => compile(target, checkedFile, ['--uncheckedBehavior', 'never']));
  }
  await runWithConcurrency(jobs, Math.max(1, Math.min(os.cpus().length, 4)));
  console.log(`build-filters: done in ${Date.now() - started} ms`);
}

// With names on the command line (`r2d2`, `testparsers/lineparser`), only those are built, so a
// parser under construction elsewhere in the tree cannot break another parser's tests.
function selectTargets(all, names) {
  if (names.length === 0) return all;
  const unknown = names.filter((name) => !all.some((target) => target.name === name));
  if (unknown.length > 0) {
    throw new Error(`build-filters: no filter named ${unknown.join(', ')}; known: ${all.map((target) => target.name).join(', ')}`);
  }
  return all.filter((target) => names.includes(target.name));
}

async function report(target, outFile) {
  const { size } = await stat(outFile);
  console.log(`build-filters: ${path.relative(repoRoot, target.entryFile)} -> ${path.relative(repoRoot, outFile)} (${size} bytes)`);
}

async function runWithConcurrency(jobs, limit) {
  let next = 0;
  const worker = async () => {
    while (next < jobs.length) await jobs[next++]();
  };
  await Promise.all(Array.from({ length: limit }, worker));
}

main().catch((err) => {
  console.error(err instanceof Error ? err.message : String(err));
  process.exit(1);
});
