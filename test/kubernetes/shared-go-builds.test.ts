// The two largest Go builds of the set-up, weir-istiod and kube-apiserver/kubectl, compile most of
// their heavy packages (k8s.io/api, apimachinery, client-go, grpc, protobuf) once between them, but
// only while both wrapper modules select the same version of every package they share: Go's build
// cache keys a package by its source and by everything below it. A version bump on one side alone
// silently doubles the cold set-up's cost of those packages; this test says which ones moved.
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { goBinary } from '../../demo/servers/go-toolchain.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const ISTIOD_MODULE = path.join(root, 'test/support/istiod');
const KUBERNETES_MODULE = path.join(root, 'demo/servers/kubernetes/go-kubernetes');
// Every non-standard package a build compiles, with the version it compiles (a replacement's, if any).
const PACKAGE_VERSION = '{{if not .Standard}}{{.ImportPath}} {{with .Module}}{{if .Replace}}{{.Replace.Path}}@{{.Replace.Version}}{{else}}{{.Path}}@{{.Version}}{{end}}{{end}}{{end}}';

function packagesOf(moduleDir: string, targets: string[]): Map<string, string> {
  const go = goBinary('the shared-package check');
  const listed = spawnSync(go, ['list', '-deps', '-f', PACKAGE_VERSION, ...targets], {
    cwd: moduleDir,
    encoding: 'utf8',
    env: { ...process.env, GOTOOLCHAIN: 'local', GOFLAGS: '-mod=readonly' },
    maxBuffer: 64 * 1024 * 1024,
  });
  if (listed.status !== 0) throw new Error(`go list -deps in ${path.relative(root, moduleDir)} failed: ${listed.stderr}`);
  const packages = new Map<string, string>();
  for (const line of listed.stdout.split('\n')) {
    const [importPath, version] = line.split(' ');
    if (importPath !== undefined && importPath !== '' && version !== undefined) packages.set(importPath, version);
  }
  return packages;
}

describe('Go builds of the set-up', () => {
  it('weir-istiod and kube-apiserver/kubectl compile every package they share at one version', () => {
    const istiod = packagesOf(ISTIOD_MODULE, ['.']);
    const kubernetes = packagesOf(KUBERNETES_MODULE, ['k8s.io/kubernetes/cmd/kube-apiserver', 'k8s.io/kubernetes/cmd/kubectl']);
    const shared = [...istiod.keys()].filter((importPath) => kubernetes.has(importPath));
    const differing = shared
      .filter((importPath) => istiod.get(importPath) !== kubernetes.get(importPath))
      .map((importPath) => `${importPath}: weir-istiod ${istiod.get(importPath)}, kubernetes ${kubernetes.get(importPath)}`);
    // Pin the module in the other go.mod (go get MODULE@VERSION, then go mod tidy) until none differ.
    expect(differing).toEqual([]);
    // The saving is in the k8s.io packages; if they stop being shared the alignment lost its point.
    expect(shared.filter((importPath) => importPath.startsWith('k8s.io/')).length).toBeGreaterThan(300);
  }, 120_000);
});
