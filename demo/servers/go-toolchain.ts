// The Go toolchain the set-up builds real components with (kube-apiserver, kubectl, etcd,
// weir-istiod), and the stamp files that let a build be skipped when nothing it depends on
// changed.
import fs from 'node:fs';
import { spawnSync } from 'node:child_process';

/**
 * Go from PATH, else Go's default install location, at 1.26 or later (kubernetes 1.37 and
 * istio.io/istio need it). `building` names what needs it, for the error.
 */
export function goBinary(building: string): string {
  for (const candidate of ['go', '/usr/local/go/bin/go']) {
    const result = spawnSync(candidate, ['version'], { encoding: 'utf8' });
    if (result.status !== 0) continue;
    const match = /go(\d+)\.(\d+)/.exec(result.stdout);
    if (match !== null && (Number(match[1]) > 1 || Number(match[2]) >= 26)) return candidate;
  }
  throw new Error(`[weir setup] building ${building} needs Go 1.26 or later (go on PATH or /usr/local/go/bin/go); install Go from go.dev/dl, then run the set-up again`);
}

/** `go version` without its prefix, e.g. "go1.26.8 linux/amd64". */
export function goVersion(go: string): string {
  return spawnSync(go, ['version'], { encoding: 'utf8' }).stdout.trim().replace(/^go version /, '');
}

/** A build's stamp (the hash it was built from), or undefined when it was never written. */
export function readStamp(file: string): string | undefined {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}
