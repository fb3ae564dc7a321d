// Builds weir-istiod (main.go beside this file: Istio's istiod embedded with Istio's fake
// Kubernetes client) from the Go module proxy with the installed Go into .weir/istio/bin, and copies
// Istio's published CRDs (manifests/charts/base/files/crd-all.gen.yaml of the same istio.io/istio
// module) beside it. A stamp records go.mod, go.sum, the Go sources and the flags; a matching stamp
// skips the build. The Go build cache is Go's default, so another checkout on this machine
// rebuilds in about a minute; a machine with no Go cache compiles all of istiod (docs/istio.md
// gives the numbers). Starting it is weir-istiod.ts's job.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { weirStateDir } from '../../../demo/servers/project-paths.ts';
import { goBinary, goVersion, readStamp } from '../../../demo/servers/go-toolchain.ts';
import { runInstallCommand, sayOnConsole, type SetupReporter } from '../../../demo/servers/setup-report.ts';

const moduleDir = path.dirname(fileURLToPath(import.meta.url));
const LDFLAGS = '-s -w';
const GO_ENV = { GOTOOLCHAIN: 'local', GOFLAGS: '-mod=readonly' };

export const ISTIO_STATE_DIR = path.join(weirStateDir, 'istio');
export const WEIR_ISTIOD_BINARY = path.join(ISTIO_STATE_DIR, 'bin', 'weir-istiod');
/** Istio's CustomResourceDefinitions, as a cluster with Istio installed has them. */
export const ISTIO_CRDS_FILE = path.join(ISTIO_STATE_DIR, 'crd-all.gen.yaml');

/** Why weir-istiod cannot run yet, or undefined once the set-up built it. */
export function weirIstiodMissing(): string | undefined {
  for (const file of [WEIR_ISTIOD_BINARY, ISTIO_CRDS_FILE]) {
    if (!fs.existsSync(file)) return `${file} is missing; run the set-up (npm run setup), which builds weir-istiod from the Go module proxy`;
  }
  return undefined;
}

export function installWeirIstiod(options: { say?: SetupReporter } = {}): void {
  const say = options.say ?? sayOnConsole;
  const stamp = stampOf();
  const stampFile = `${WEIR_ISTIOD_BINARY}.stamp`;
  if (fs.existsSync(WEIR_ISTIOD_BINARY) && fs.existsSync(ISTIO_CRDS_FILE) && readStamp(stampFile) === stamp) {
    say(`weir-istiod: already built (${WEIR_ISTIOD_BINARY})`);
    return;
  }
  const go = goBinary('weir-istiod');
  const env = { ...process.env, ...GO_ENV };
  fs.mkdirSync(path.dirname(WEIR_ISTIOD_BINARY), { recursive: true });
  say(`weir-istiod: building istiod (istio.io/istio from the Go module proxy) with ${goVersion(go)}; with no Go build cache this compiles about 3,000 packages (roughly 15 minutes on 2 idle cores), with one a minute or two`);
  const started = Date.now();
  const partial = `${WEIR_ISTIOD_BINARY}.partial`;
  runInstallCommand({
    command: go,
    args: ['build', '-trimpath', '-ldflags', LDFLAGS, '-o', partial, '.'],
    cwd: moduleDir,
    remedy: 'Check that the Go module proxy is reachable (go env GOPROXY) and that about 2 GB of memory is free, then run the set-up again.',
    env,
  });
  fs.renameSync(partial, WEIR_ISTIOD_BINARY);
  const listed = spawnSync(go, ['list', '-m', '-f', '{{.Dir}}', 'istio.io/istio'], { cwd: moduleDir, env, encoding: 'utf8' });
  if (listed.status !== 0) throw new Error(`[weir setup] go list -m istio.io/istio failed: ${listed.stderr.trim()}`);
  fs.copyFileSync(path.join(listed.stdout.trim(), 'manifests', 'charts', 'base', 'files', 'crd-all.gen.yaml'), ISTIO_CRDS_FILE);
  fs.writeFileSync(stampFile, stamp);
  say(`weir-istiod: built in ${((Date.now() - started) / 1000).toFixed(0)} s (${(fs.statSync(WEIR_ISTIOD_BINARY).size / 1e6).toFixed(0)} MB); Istio's CRDs in ${ISTIO_CRDS_FILE}`);
}

function stampOf(): string {
  const hash = createHash('sha256');
  for (const file of fs.readdirSync(moduleDir).filter((name) => name.endsWith('.go') || name === 'go.mod' || name === 'go.sum').sort()) {
    hash.update(`${file}\n`).update(fs.readFileSync(path.join(moduleDir, file)));
  }
  hash.update(`-trimpath ${LDFLAGS}\n`);
  return hash.digest('hex');
}



