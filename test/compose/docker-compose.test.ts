// There is no Docker engine here, so docker-compose.yml cannot run in CI. Instead this checks that
// it describes the same topology the r2d2 demo runs as processes: the pinned Envoy version, the
// same redirects and ports, and mounted files that exist and match what the CLI generates.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { PINNED_ENVOY_VERSION, projectRoot } from '../../server/envoy/binary.ts';
import { loadWeirConfig } from '../../server/config/weir-config.ts';
import { renderBootstrap } from '../../server/xds/bootstrap.ts';
import { R2D2_DEMO } from '../../demo/r2d2/scenario.ts';

interface ComposeService {
  image: string;
  command: string[];
  volumes?: string[];
  ports?: string[];
  expose?: string[];
  depends_on?: Record<string, { condition: string }>;
}

const compose = parse(readFileSync(path.join(projectRoot, 'docker-compose.yml'), 'utf8')) as { services: Record<string, ComposeService>; volumes?: Record<string, object> };
const service = (name: string): ComposeService => {
  const found = compose.services[name];
  if (found === undefined) throw new Error(`docker-compose.yml has no service "${name}"`);
  return found;
};
const processConfig = loadWeirConfig(R2D2_DEMO.configFile);
const composeConfigArg = (): string => {
  const command = service('weir-server').command.join(' ');
  const match = /weir\.js serve --config (\S+)/.exec(command);
  if (match?.[1] === undefined) throw new Error(`weir-server does not run "weir serve --config FILE": ${command}`);
  return match[1];
};

describe('docker-compose.yml', () => {
  it('runs the official Envoy image at the version the tests use', () => {
    expect(service('envoy').image).toBe(`envoyproxy/envoy:v${PINNED_ENVOY_VERSION}`);
  });

  it('mounts only files that exist in the repository (and the named volume of the node credentials)', () => {
    for (const [name, entry] of Object.entries(compose.services)) {
      for (const volume of entry.volumes ?? []) {
        const hostPath = volume.split(':')[0] ?? '';
        if (!hostPath.startsWith('.')) {
          expect(Object.keys(compose.volumes ?? {}), `${name} mounts volume ${hostPath}`).toContain(hostPath);
          continue;
        }
        expect(existsSync(path.join(projectRoot, hostPath)), `${name} mounts ${hostPath}`).toBe(true);
      }
    }
  });

  it('gives Envoy the bootstrap that weir bootstrap prints for the compose network, with the credentials the enrol service writes', () => {
    const envoy = service('envoy');
    const mount = (envoy.volumes ?? []).find((volume) => volume.includes('bootstrap.yaml'));
    expect(mount).toBeDefined();
    const [hostPath = '', containerPath = ''] = (mount ?? '').split(':');
    expect(envoy.command).toEqual(expect.arrayContaining(['-c', containerPath]));
    const mounted = parse(readFileSync(path.join(projectRoot, hostPath), 'utf8')) as unknown;
    const expected = parse(renderBootstrap({ nodeId: 'weir-compose', xdsAddress: 'weir-server', xdsPort: processConfig.xds.port, adminPort: R2D2_DEMO.adminPort, agentWasmFile: '/weir/build/filters/agent.wasm', credentialsDir: '/weir-node' })) as unknown;
    expect(mounted).toEqual(expected);
    const enrol = service('enrol').command.join(' ');
    expect(enrol).toContain('weir.js bootstrap --node-id weir-compose --xds weir-server:18000');
    expect(enrol).toContain('--certs /weir-node');
    expect(enrol).toContain('weir.js node renew --certs /weir-node --watch');
    expect(envoy.volumes).toContain('weir-node:/weir-node:ro');
  });

  it('serves the same redirects as the process demo, with service names for addresses', () => {
    const composeConfig = loadWeirConfig(path.join(projectRoot, composeConfigArg()));
    expect(composeConfig.xds.port).toBe(processConfig.xds.port);
    expect(composeConfig.filtersDir).toBe(processConfig.filtersDir);
    const shape = (config: typeof processConfig) =>
      config.redirects.map((redirect) => ({ name: redirect.name, parser: redirect.parser, listenPort: redirect.listen.port, upstreamPort: redirect.upstream.port }));
    expect(shape(composeConfig)).toEqual(shape(processConfig));
    for (const redirect of composeConfig.redirects) {
      expect(redirect.listen.address).toBe('0.0.0.0');
      expect(Object.keys(compose.services)).toContain(redirect.upstream.address);
    }
  });

  it('publishes the r2d2 listener and runs the backend on the port the redirect targets', () => {
    const [redirect] = processConfig.redirects;
    expect(redirect).toBeDefined();
    expect(service('envoy').ports).toContain(`${redirect?.listen.port}:${redirect?.listen.port}`);
    const backend = service('r2d2-backend');
    expect(backend.command.join(' ')).toContain('demo/backends/r2d2-backend.ts');
    expect(backend.command.join(' ')).toContain(`--port ${redirect?.upstream.port}`);
    expect(R2D2_DEMO.backendPort).toBe(redirect?.upstream.port);
    expect(R2D2_DEMO.xdsPort).toBe(processConfig.xds.port);
  });

  it('builds the filters before the server reads them', () => {
    expect(service('weir-server').command.join(' ')).toMatch(/npm run build:filters && .*weir\.js serve/);
  });
});
