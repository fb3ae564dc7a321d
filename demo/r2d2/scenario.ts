// The r2d2 demo: the backend, `weir serve` and an Envoy bootstrapped by `weir bootstrap`, run as
// separate processes the way a user would run them, then a scripted session that shows one allowed
// and one refused request. Every outcome is checked, so `--check` can gate CI.
import path from 'node:path';
import { runMonitor } from '../../server/cli/monitor-command.ts';
import { projectRoot } from '../servers/project-paths.ts';
import { startEnvoy } from '../servers/envoy/process.ts';
import { listenerPort } from '../servers/envoy/listeners.ts';
import { startR2d2Backend } from '../backends/r2d2-backend.ts';
import { composeServices, waitForListener } from '../compose-services.ts';
import { waitForAgent } from '../guarded-server.ts';
import { say } from '../outcome-log.ts';
import { runWeirCli, startWeirServe } from '../weir-process.ts';
import { openR2d2Session } from './client.ts';

export const R2D2_DEMO = {
  configFile: path.join(projectRoot, 'demo', 'r2d2', 'weir.yaml'),
  /** The config's default api.socket (`.weir/weir.sock` next to it); `weir bootstrap` enrols the node there. */
  apiSocket: path.join(projectRoot, 'demo', 'r2d2', '.weir', 'weir.sock'),
  credentialsDir: path.join(projectRoot, '.weir', 'demo-node'),
  nodeId: 'weir-demo',
  xdsPort: 18000,
  adminPort: 9901,
  backendPort: 9000,
  listenerName: 'weir-r2d2',
} as const;

export interface Outcome {
  step: string;
  expected: string;
  actual: string;
  ok: boolean;
}

export interface DemoOptions {
  /** Attach to the services of a docker-compose*.yml (demo/compose-services.ts) instead of starting processes. */
  compose?: boolean;
}

export interface RunningR2d2Demo {
  outcomes: Outcome[];
  /** What to try while the demo keeps running (printed by demo/main.ts). */
  hint?: string;
  stop(): Promise<void>;
}

export async function runR2d2Demo(options: DemoOptions = {}): Promise<RunningR2d2Demo> {
  if (options.compose === true) return attachR2d2Demo();
  const stops: Array<() => Promise<void>> = [];
  const stop = async (): Promise<void> => {
    for (const stopOne of stops.reverse()) await stopOne().catch(() => undefined);
  };
  try {
    const backend = await startR2d2Backend({ port: R2D2_DEMO.backendPort });
    stops.push(() => backend.close());
    say(`r2d2 backend      listening on 127.0.0.1:${backend.port}`);

    const server = await startWeirServe({ configFile: R2D2_DEMO.configFile, xdsPort: R2D2_DEMO.xdsPort, logFile: path.join(projectRoot, '.weir', 'demo-server.log') });
    stops.push(() => server.stop(5_000));
    say(`weir serve        xDS on 127.0.0.1:${R2D2_DEMO.xdsPort} (pid ${server.pid}, log .weir/demo-server.log)`);

    const bootstrap = await runWeirCli(
      ['bootstrap', '--node-id', R2D2_DEMO.nodeId, '--xds', `127.0.0.1:${R2D2_DEMO.xdsPort}`, '--admin-port', String(R2D2_DEMO.adminPort), '--certs', R2D2_DEMO.credentialsDir],
      { socket: R2D2_DEMO.apiSocket },
    );
    if (bootstrap.code !== 0) throw new Error(`${bootstrap.command} failed (${bootstrap.code}): ${bootstrap.stderr}`);
    const envoy = await startEnvoy({ bootstrapYaml: bootstrap.stdout });
    stops.push(() => envoy.stop());
    await envoy.waitReady();
    const port = await listenerPort(envoy, R2D2_DEMO.listenerName);
    say(`envoy             pid ${envoy.pid}, admin ${envoy.adminUrl}, r2d2 listener on 127.0.0.1:${port}, mTLS to weir serve as spiffe://weir.local/node/${R2D2_DEMO.nodeId}`);
    say('');
    const outcomes = await scriptedSession(port, {
      backendLinesWith: async (word) => backend.received.filter((line) => line.includes(word)),
      denialLogged: () => envoy.waitForLog(/weir-accesslog \{[^\n]*"Denied"[^\n]*C-3PO[^\n]*/, 3_000).catch(() => ''),
      where: 'Envoy',
    });
    const hint = `The demo keeps running: try \`nc -C 127.0.0.1 ${port}\` and type READ sloop or WRITE C-3PO.`;
    return { outcomes, stop, hint };
  } catch (error) {
    await stop();
    throw error;
  }
}

/**
 * docker-compose.yml's demo service: the backend, weir serve and Envoy are services. What reached
 * the backend is asked of the backend itself (`READ C-3PO` says how often C-3PO was written), the
 * denial is read from the access log Envoy's agent shipped to weir serve.
 */
async function attachR2d2Demo(): Promise<RunningR2d2Demo> {
  const services = composeServices();
  await waitForAgent((args) => runWeirCli(args, { socket: services.apiSocket }), services.nodeId, 'docker compose logs weir-server', 60);
  await waitForListener(services.proxyPort);
  say(`attached          weir serve (API ${services.apiSocket}), Envoy ${services.nodeId} (r2d2 listener 127.0.0.1:${services.proxyPort}), backend ${services.backend.host}:${services.backend.port}`);
  say('');
  const outcomes = await scriptedSession(services.proxyPort, {
    backendLinesWith: async (word) => {
      const direct = await openR2d2Session(services.backend.port, services.backend.host);
      try {
        const [reply = ''] = await direct.request(`READ ${word}\r\n`);
        return reply === `OK ${word} written 0 times` ? [] : [`the backend answered READ ${word} with ${JSON.stringify(reply)}`];
      } finally {
        direct.close();
      }
    },
    denialLogged: async () => {
      // The agent ships entries in batches: follow the flows until the denial arrives.
      const lines: string[] = [];
      await runMonitor({
        api: { kind: 'socket', socket: services.apiSocket },
        filter: { protocols: ['r2d2'], verdicts: ['denied'] },
        last: 20,
        maxRecords: 1,
        signal: AbortSignal.timeout(10_000),
        writeLine: (line) => lines.push(line),
      }).catch(() => 0);
      return lines.find((line) => line.includes('C-3PO')) ?? '';
    },
    where: 'weir monitor',
  });
  return { outcomes, stop: async () => undefined };
}

/** How the scripted session checks what happened past the client. */
interface SessionChecks {
  /** The lines with `word` that reached the backend. */
  backendLinesWith(word: string): Promise<string[]>;
  /** The log line of the denial naming C-3PO, or '' if there is none. */
  denialLogged(): Promise<string>;
  /** Where denialLogged reads, for the output. */
  where: string;
}

async function scriptedSession(port: number, checks: SessionChecks): Promise<Outcome[]> {
  const outcomes: Outcome[] = [];
  const session = await openR2d2Session(port);
  const exchange = async (request: string, expected: RegExp, step: string): Promise<void> => {
    say(`client -> ${request}`);
    const [reply = ''] = await session.request(`${request}\r\n`).catch((error: unknown) => [`(no reply: ${String(error)})`]);
    say(`client <- ${reply}`);
    outcomes.push({ step, expected: String(expected), actual: reply, ok: expected.test(reply) });
  };
  await exchange('READ sloop', /^OK /, 'an allowed request reaches the backend and its reply comes back');
  await exchange('WRITE C-3PO', /^ERROR$/, 'a request naming C-3PO is refused with ERROR');
  await exchange('READ sloop', /^OK /, 'the same connection still works after the refusal');
  session.close();
  const leaked = await checks.backendLinesWith('C-3PO');
  outcomes.push({
    step: 'the refused request never reached the backend',
    expected: 'no line with C-3PO at the backend',
    actual: leaked.length === 0 ? 'none' : leaked.join(' | '),
    ok: leaked.length === 0,
  });
  const denial = await checks.denialLogged();
  if (denial !== '') say(`${checks.where}: ${denial}`);
  outcomes.push({
    step: 'Envoy logged the denial',
    expected: 'a weir-accesslog Denied entry naming C-3PO',
    actual: denial === '' ? 'no such log line' : denial,
    ok: denial !== '',
  });
  return outcomes;
}

