// Builds the go-control-plane anchor (bench/xds/gcp-anchor/, go-control-plane v0.14.0 with its
// envoy module v1.40.0, pinned by go.mod and go.sum) with the machine's Go, from the Go module
// proxy, into .weir/bench/. Only bench:xds --server gcp needs it, so only the bench builds it; a
// stamp (sources and `go version`) makes later runs reuse the binary. GOCACHE and GOMODCACHE stay
// Go's defaults, shared with every other Go build on the machine.
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const SOURCE_DIR = path.join(path.dirname(fileURLToPath(import.meta.url)), 'gcp-anchor');
const SOURCE_FILES = ['main.go', 'go.mod', 'go.sum'];
const PROJECT_ROOT = path.resolve(SOURCE_DIR, '..', '..', '..');
const OUTPUT_DIR = path.join(PROJECT_ROOT, '.weir', 'bench');
const BINARY = path.join(OUTPUT_DIR, 'xds-gcp-anchor');
const STAMP = `${BINARY}.stamp`;

/** The anchor's binary, built first if missing or stale. `say` reports what it does. */
export function ensureGcpAnchor(say: (message: string) => void): string {
  const stamp = sourceStamp();
  if (fs.existsSync(BINARY) && readStamp() === stamp) return BINARY;
  say(`building the go-control-plane anchor (${path.relative(PROJECT_ROOT, SOURCE_DIR)}) into ${path.relative(PROJECT_ROOT, BINARY)}; the first build downloads modules and takes minutes`);
  fs.mkdirSync(OUTPUT_DIR, { recursive: true });
  const result = spawnSync('go', ['build', '-trimpath', '-o', BINARY, '.'], { cwd: SOURCE_DIR, stdio: ['ignore', 'inherit', 'inherit'] });
  if (result.error) throw new Error(`cannot run go to build the go-control-plane anchor: ${result.error.message}; install Go 1.26 or later (it is on this kind of machine at /usr/local/go/bin)`);
  if (result.status !== 0) throw new Error(`go build of ${SOURCE_DIR} exited with ${result.status ?? result.signal}; see its output above`);
  fs.writeFileSync(STAMP, stamp);
  return BINARY;
}

function sourceStamp(): string {
  const digest = createHash('sha256');
  for (const file of SOURCE_FILES) digest.update(file).update('\0').update(fs.readFileSync(path.join(SOURCE_DIR, file))).update('\0');
  digest.update(goVersion());
  return digest.digest('hex');
}

function goVersion(): string {
  try {
    return execFileSync('go', ['version'], { encoding: 'utf8' }).trim();
  } catch (error) {
    throw new Error(`bench:xds --server gcp needs Go to build its go-control-plane anchor, and \`go version\` failed: ${error instanceof Error ? error.message : String(error)}`);
  }
}

function readStamp(): string | undefined {
  try {
    return fs.readFileSync(STAMP, 'utf8');
  } catch {
    return undefined;
  }
}
