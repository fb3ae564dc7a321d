// A parser written by a user gets full CiliumNetworkPolicy support with no server change: `weir
// parser new` scaffolds it, the build writes its rule-key manifest beside the module, `weir serve`
// learns the keys from filters.dir, `weir policy import` accepts `l7proto: <new>` with an exact and
// a regex key, and a real Envoy enforces it (the walk of docs/writing-a-parser.md). The scaffolded
// line protocol is served by the r2d2 backend, which answers every line with one line. Removes
// every file it made.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startR2d2Backend, type R2d2Backend } from '../../demo/backends/r2d2-backend.ts';
import { openR2d2Session } from '../../demo/r2d2/client.ts';
import { freeLoopbackPort } from '../../demo/servers/loopback-port.ts';
import { runWeirCli } from '../../demo/weir-process.ts';
import { runParserCommand } from '../../server/cli/parser-command.ts';
import { runServe, type RunningServe } from '../../server/cli/serve-command.ts';
import { projectRoot } from '../../demo/servers/project-paths.ts';
import { listenerPort } from '../../demo/servers/envoy/listeners.ts';
import { startEnvoy, type EnvoyProcess } from '../../demo/servers/envoy/process.ts';
import { silentLogger } from '../../server/log/logger.ts';
import { renderBootstrap } from '../../server/xds/bootstrap.ts';
import { requireBuiltFilters } from '../filters/envoy-harness.ts';
import { enrolNode } from '../support/test-pki.ts';

// "scaffold-check-" keeps the module out of the tracked sizes (test/filters/sdk/wasm-size.test.ts).
const name = `scaffold-check-kv-${process.pid}`;
const nodeId = `custom-parser-${process.pid}`;
const madePaths = [
  path.join('filters', 'parsers', name),
  path.join('test', 'filters', 'parsers', name),
  ...['', 'checked'].flatMap((variant) => [`${name}.wasm`, `${name}.rules.json`, `${name}.wasm.lock`].map((file) => path.join('build', 'filters', variant, file))),
];

const ENDPOINTS = `apiVersion: weir.dev/v1
kind: Endpoint
metadata: { name: kv-server }
spec: { labels: { app: kv-server }, ips: [127.0.0.1] }
`;

function policy(port: number): string {
  return `apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: { name: kv-public-reads }
spec:
  endpointSelector: { matchLabels: { app: kv-server } }
  ingress:
    - fromEntities: [all]
      toPorts:
        - ports: [{ port: "${port}", protocol: TCP }]
          rules: { l7proto: ${name}, l7: [{ cmd: READ, arg: "^public/[a-z]+$" }] }
`;
}

let dir: string;
let backend: R2d2Backend;
let serve: RunningServe;
let envoy: EnvoyProcess;
let proxyPort: number;

beforeAll(async () => {
  requireBuiltFilters('agent.wasm');
  const scaffolded = await runParserCommand(['new', name], { out: () => undefined, err: () => undefined });
  if (scaffolded !== 0) throw new Error(`weir parser new ${name} failed with ${scaffolded}`);
  execFileSync(process.execPath, ['scripts/build-filters.mjs', name], { cwd: projectRoot, stdio: 'pipe' });
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'weir-custom-parser-'));
  backend = await startR2d2Backend();
  fs.mkdirSync(path.join(dir, 'policies'));
  fs.writeFileSync(path.join(dir, 'policies', 'endpoints.yaml'), ENDPOINTS);
  const configFile = path.join(dir, 'weir.yaml');
  fs.writeFileSync(configFile, [
    'xds: { address: 127.0.0.1, port: 0, batchWindowMs: 10 }',
    'policies: { dir: policies, enforcementMode: default }',
    'api: { socket: weir.sock }',
    'redirects:',
    `  - { name: kv, parser: ${name}, endpoint: kv-server, listen: { address: 127.0.0.1, port: ${await freeLoopbackPort()} }, upstream: { address: 127.0.0.1, port: ${backend.port} } }`,
    `filters: { dir: ${JSON.stringify(path.join(projectRoot, 'build', 'filters'))} }`,
  ].join('\n'));
  serve = await runServe({ configFile, logger: silentLogger() });
  envoy = await startEnvoy({ bootstrapYaml: renderBootstrap({ nodeId, xdsPort: serve.controlServer.port, adminPort: 0, credentialsDir: enrolNode(serve.authority, nodeId, path.join(dir, 'node')) }) });
  await envoy.waitReady();
  proxyPort = await listenerPort(envoy, 'weir-kv');
}, 600_000);

afterAll(async () => {
  await envoy?.stop();
  await serve?.stop();
  await backend?.close();
  if (dir !== undefined) fs.rmSync(dir, { recursive: true, force: true });
  for (const made of madePaths) fs.rmSync(path.join(projectRoot, made), { recursive: true, force: true });
});

describe('a parser from `weir parser new`, enforced by a real Envoy from a CiliumNetworkPolicy', () => {
  it('the build writes the declared rule keys beside the module', () => {
    const manifest = JSON.parse(fs.readFileSync(path.join(projectRoot, 'build', 'filters', `${name}.rules.json`), 'utf8')) as { protocol: string; keys: Array<{ name: string; match: string }> };
    expect(manifest.protocol).toBe(name);
    expect(manifest.keys.map((key) => [key.name, key.match])).toEqual([['cmd', 'exact'], ['arg', 'regex']]);
  });

  it('rejects a rule key the parser does not declare, naming the keys it has', async () => {
    const file = path.join(dir, 'bad.yaml');
    fs.writeFileSync(file, policy(backend.port).replace('arg:', 'key:'));
    const imported = await runWeirCli(['policy', 'import', file], { socket: serve.api.socket });
    expect(imported.code).not.toBe(0);
    expect(imported.stderr).toContain(`unknown ${name} rule key; ${name} accepts cmd, arg`);
  });

  it('imports l7proto with an exact and a regex key, and Envoy allows only what the rule matches', async () => {
    const file = path.join(dir, 'kv-public-reads.yaml');
    fs.writeFileSync(file, policy(backend.port));
    const imported = await runWeirCli(['policy', 'import', file], { socket: serve.api.socket });
    expect(imported.stderr).toBe('');
    expect(imported.code).toBe(0);
    const waited = await runWeirCli(['policy', 'wait', '--node', nodeId, '--timeout', '30'], { socket: serve.api.socket });
    if (waited.code !== 0) throw new Error(`weir policy wait failed: ${waited.stderr}\n${envoy.log().slice(-3000)}`);

    const session = await openR2d2Session(proxyPort);
    expect(await session.request('READ public/sloop\r\n')).toEqual(['OK public/sloop written 0 times']);
    expect(await session.request('READ secret/plans\r\n')).toEqual(['ERROR denied']);
    expect(await session.request('WRITE public/sloop\r\n')).toEqual(['ERROR denied']);
    expect(await session.request('READ public/Sloop\r\n')).toEqual(['ERROR denied']);
    expect(await session.request('READ public/deck\r\n')).toEqual(['OK public/deck written 0 times']);
    session.close();
    expect(backend.received.filter((line) => line !== '')).toEqual(['READ public/sloop', 'READ public/deck']);
    await envoy.waitForLog(new RegExp(`weir-accesslog \\{[^\\n]*"Denied"[^\\n]*${name}[^\\n]*secret/plans`));
  });
});
