// Starts one throwaway Kafka broker (KRaft, broker and controller in one JVM) as a Java process:
// free loopback ports, a temp work dir with server.properties, the log4j2 config and a copy of
// the storage template installed by install.ts, then polls until the broker reports itself live.
// Stops it by pid and removes the work dir. Topics are created by the caller (kafkajs admin or
// Kafka's tools): auto-creation is off.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freeLoopbackPort } from '../loopback-port.ts';
import { readFileTail, spawnServer, type ServerProcess } from '../server-process.ts';
import { resolveJavaBinary } from '../cassandra/java-runtime.ts';
import { LOOPBACK_HOST, writeBrokerLog4j, writeBrokerProperties, type ProxiedListener } from './broker-config.ts';
import { probeKafkaBroker } from './broker-probe.ts';
import { defaultKafkaInstallDir, kafkaClassPath } from './install.ts';

export interface StartKafkaOptions {
  /** The install from installKafka(); default `<repo>/.weir/kafka`. */
  installDir?: string;
  javaBinary?: string;
  /** -Xmx for the broker; default 768m. */
  maxHeap?: string;
  /** Write Kafka's request log (kafka.request.logger at DEBUG) to `requestLog`. */
  requestLog?: boolean;
  /**
   * Client listeners behind proxies, by name (upper-case letters): for each, the port its clients
   * reach it at (an Envoy listener). startKafka picks the broker's own port for each.
   */
  proxiedListeners?: readonly { name: string; advertisedPort: number }[];
  /** socket.request.max.bytes; Kafka's default (100 MiB) when absent. */
  maxRequestBytes?: number;
  /** How long to wait for the broker to report itself live; default 180 s (a loaded machine is slow). */
  readyTimeoutMs?: number;
  /** How long SIGTERM gets before SIGKILL on stop(); default 10 s. */
  stopGraceMs?: number;
  /** Keep the work dir (data and logs) after stop(), e.g. to debug a failure. */
  keepWorkDir?: boolean;
}

export interface RunningKafka {
  pid: number;
  host: string;
  port: number;
  /** `host:port`, as clients take it. */
  bootstrap: string;
  /** The broker's own port of each proxied listener, by name (the backend of its Envoy). */
  listenerPorts: Record<string, number>;
  workDir: string;
  brokerLog: string;
  /** Kafka's request log, when requestLog was asked for. */
  requestLog: string | undefined;
  /** From process start until the broker reported itself live. */
  startupMs: number;
  stop(): Promise<void>;
}

const POLL_INTERVAL_MS = 250;
const PROBE_TIMEOUT_MS = 3_000;

export async function startKafka(options: StartKafkaOptions = {}): Promise<RunningKafka> {
  const installDir = options.installDir ?? defaultKafkaInstallDir();
  const libDir = path.join(installDir, 'lib');
  const template = path.join(installDir, 'storage-template');
  if (!fs.existsSync(path.join(template, 'meta.properties'))) {
    throw new Error(`startKafka: no Kafka install in ${installDir}; run installKafka() (npm test runs it in the set-up) first`);
  }
  const workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'weir-kafka-'));
  const logDir = path.join(workDir, 'data');
  fs.cpSync(template, logDir, { recursive: true });
  const taken = new Set<number>((options.proxiedListeners ?? []).map((l) => l.advertisedPort));
  const nextPort = async (): Promise<number> => {
    for (;;) {
      const port = await freeLoopbackPort();
      if (!taken.has(port)) {
        taken.add(port);
        return port;
      }
    }
  };
  const brokerPort = await nextPort();
  const controllerPort = await nextPort();
  const proxiedListeners: ProxiedListener[] = [];
  for (const listener of options.proxiedListeners ?? []) proxiedListeners.push({ ...listener, port: await nextPort() });
  const propertiesFile = path.join(workDir, 'server.properties');
  writeBrokerProperties(propertiesFile, { logDir, brokerPort, controllerPort, proxiedListeners, maxRequestBytes: options.maxRequestBytes });
  const brokerLog = path.join(workDir, 'broker.log');
  const requestLog = options.requestLog === true ? path.join(workDir, 'requests.log') : undefined;
  const log4jFile = path.join(workDir, 'log4j2.properties');
  writeBrokerLog4j(log4jFile, { brokerLog, requestLog });
  const startedAt = Date.now();
  const java = spawnServer({
    command: options.javaBinary ?? resolveJavaBinary(),
    args: [`-Xmx${options.maxHeap ?? '768m'}`, '-Xms256m', '-XX:+UseG1GC', `-Dlog4j2.configurationFile=${log4jFile}`, '-cp', kafkaClassPath(libDir), 'kafka.Kafka', propertiesFile],
    cwd: workDir,
    outputFile: path.join(workDir, 'java-output.log'),
  });
  const keepWorkDir = options.keepWorkDir === true;
  const removeWorkDir = (): void => {
    if (!keepWorkDir) fs.rmSync(workDir, { recursive: true, force: true });
  };
  try {
    await waitUntilLive(java, brokerPort, options.readyTimeoutMs ?? 180_000, () => failureDetails(java, brokerLog, workDir, keepWorkDir));
  } catch (error) {
    await java.stop(2_000);
    removeWorkDir();
    throw error;
  }
  return {
    pid: java.pid,
    host: LOOPBACK_HOST,
    port: brokerPort,
    bootstrap: `${LOOPBACK_HOST}:${brokerPort}`,
    listenerPorts: Object.fromEntries(proxiedListeners.map((l) => [l.name, l.port])),
    workDir,
    brokerLog,
    requestLog,
    startupMs: Date.now() - startedAt,
    stop: async () => {
      await java.stop(options.stopGraceMs ?? 10_000);
      removeWorkDir();
    },
  };
}

async function waitUntilLive(java: ServerProcess, port: number, timeoutMs: number, details: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastProbe = 'not tried yet';
  for (;;) {
    const exit = java.exitStatus();
    if (exit !== undefined) {
      throw new Error(`Kafka (pid ${java.pid}) exited during start-up with ${exit.code === null ? `signal ${exit.signal}` : `status ${exit.code}`}.\n${details()}`);
    }
    try {
      const brokers = await probeKafkaBroker(LOOPBACK_HOST, port, PROBE_TIMEOUT_MS);
      if (brokers > 0) return;
      lastProbe = 'the broker listed no live brokers yet';
    } catch (error) {
      lastProbe = error instanceof Error ? error.message : String(error);
    }
    if (Date.now() > deadline) {
      throw new Error(`Kafka (pid ${java.pid}) was not live on ${LOOPBACK_HOST}:${port} within ${timeoutMs} ms (last probe: ${lastProbe}).\n${details()}`);
    }
    await new Promise((resolve) => setTimeout(resolve, POLL_INTERVAL_MS));
  }
}

function failureDetails(java: ServerProcess, brokerLog: string, workDir: string, keepWorkDir: boolean): string {
  const logTail = readFileTail(brokerLog, 12_000).split('\n').slice(-40).join('\n');
  return [
    `--- JVM output (tail) ---\n${java.outputTail(20) || '(none)'}`,
    `--- ${brokerLog} (tail) ---\n${logTail || '(empty)'}`,
    keepWorkDir ? `Work dir kept: ${workDir}` : `Work dir ${workDir} is removed; pass keepWorkDir: true to keep it.`,
  ].join('\n');
}
