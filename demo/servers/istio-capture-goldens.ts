// Istio's istio-iptables golden files for the capture-rule test, read from the istio.io/istio
// module that the Go module proxy serves: the set-up downloads it once into .weir/go-mod (nothing of
// it is copied into the repository). Debian's iptables and iproute2 are a set-up step of their own
// (scripts/setup.ts).
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { weirStateDir } from './project-paths.ts';

type Say = (message: string) => void;

/** The istio.io/istio pseudo-version whose golden files the capture rules are compared with. */
export const ISTIO_MODULE = 'istio.io/istio';
export const ISTIO_MODULE_VERSION = 'v0.0.0-20260827124520-eed52ebb66ad';
const GOLDEN_SUBDIR = path.join('tools', 'istio-iptables', 'pkg', 'capture', 'testdata');
const goModCache = path.join(weirStateDir, 'go-mod');
const goldenStamp = path.join(weirStateDir, 'istio-iptables-golden.json');

/** Downloads istio.io/istio at ISTIO_MODULE_VERSION from the Go module proxy into .weir/go-mod, once. */
export function downloadIstioCaptureGoldens(say: Say): void {
  if (istioCaptureGoldenDir() !== undefined) {
    say(`Istio's istio-iptables golden files: already in .weir/go-mod (${ISTIO_MODULE}@${ISTIO_MODULE_VERSION})`);
    return;
  }
  say(`Istio's istio-iptables golden files: go mod download ${ISTIO_MODULE}@${ISTIO_MODULE_VERSION} into .weir/go-mod (about 70 MB, once)`);
  fs.mkdirSync(goModCache, { recursive: true });
  const result = spawnSync('go', ['mod', 'download', '-json', `${ISTIO_MODULE}@${ISTIO_MODULE_VERSION}`], {
    cwd: weirStateDir,
    encoding: 'utf8',
    env: { ...process.env, GOMODCACHE: goModCache, GOFLAGS: '-modcacherw', GO111MODULE: 'on' },
  });
  if (result.error !== undefined) throw new Error(`cannot run go (${result.error.message}); the tests compare Weir's capture rules with Istio's golden files, which come from the Go module proxy`);
  if (result.status !== 0) throw new Error(`go mod download ${ISTIO_MODULE}@${ISTIO_MODULE_VERSION} failed:\n${result.stdout}${result.stderr}`);
  const dir = (JSON.parse(result.stdout) as { Dir?: string }).Dir;
  if (dir === undefined || !fs.existsSync(path.join(dir, GOLDEN_SUBDIR))) throw new Error(`go mod download gave no module directory with ${GOLDEN_SUBDIR}:\n${result.stdout}`);
  fs.writeFileSync(goldenStamp, JSON.stringify({ module: ISTIO_MODULE, version: ISTIO_MODULE_VERSION, dir }, null, 2));
  say(`Istio's istio-iptables golden files: ${path.join(dir, GOLDEN_SUBDIR)}`);
}

/** The directory holding `<case>.golden`, once the set-up downloaded it; undefined before. */
export function istioCaptureGoldenDir(): string | undefined {
  let stamp: { version?: string; dir?: string };
  try {
    stamp = JSON.parse(fs.readFileSync(goldenStamp, 'utf8')) as { version?: string; dir?: string };
  } catch {
    return undefined;
  }
  if (stamp.version !== ISTIO_MODULE_VERSION || stamp.dir === undefined) return undefined;
  const dir = path.join(stamp.dir, GOLDEN_SUBDIR);
  return fs.existsSync(dir) ? dir : undefined;
}
