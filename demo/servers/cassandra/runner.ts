// Starts one throwaway Cassandra node as a Java process: free loopback ports, a temp work dir for
// config, data, commit log, caches, hints and system.log, then polls the native port until it
// completes a CQL OPTIONS/STARTUP exchange. Stops it by pid and removes the work dir.
// Downloading the jars is install.ts's job; the JVM flags are jvm-options.ts's.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freeLoopbackPort } from '../loopback-port.ts';
import { spawnServer, readFileTail, type ServerProcess } from '../server-process.ts';
import { cqlHandshake, type CqlHandshake } from './cql-handshake.ts';
import { defaultCassandraInstallDir } from './install.ts';
import { resolveJavaBinary } from './java-runtime.ts';
import { cassandraJvmArguments } from './jvm-options.ts';
import { LOOPBACK_HOST, writeCassandraNodeFiles } from './node-config.ts';

export interface StartCassandraOptions {
  /** The jars from installCassandra(); default `<repo>/.weir/cassandra/lib`. */
  libDir?: string;
  javaBinary?: string;
  initialHeap?: string;
  maxHeap?: string;
  /** How long to wait for the native port to answer; default 90 s. */
  readyTimeoutMs?: number;
  /** How long SIGTERM gets before SIGKILL on stop(); default 15 s. */
  stopGraceMs?: number;
  /** Keep the work dir (data and system.log) after stop(), e.g. to debug a failure. */
  keepWorkDir?: boolean;
  clusterName?: string;
  /** Turn on Cassandra's audit log (every keyspace and category) into `auditLog`. */
  auditLog?: boolean;
  /** The address it listens on (listen, RPC and native); default 127.0.0.1. */
  host?: string;
  /** Runs Java through this command prefix, e.g. `ip netns exec NS` for a node in a network namespace. */
  launcher?: readonly string[];
  /** How to ask the native port whether it serves; default a CQL handshake from this process. */
  probe?: (host: string, port: number, timeoutMs: number) => Promise<CqlHandshake>;
}

export interface RunningCassandra {
  pid: number;
  host: string;
  nativePort: number;
  storagePort: number;
  jmxPort: number;
  workDir: string;
  /** Cassandra's own log (logback, INFO). */
  systemLog: string;
  /** Cassandra's audit log (FileAuditLogger lines), when started with auditLog. */
  auditLog?: string;
  /** From process start until the native port answered STARTUP with READY. */
  startupMs: number;
  /** What the node answered to OPTIONS: protocol versions, CQL version, compression. */
  supported: CqlHandshake['supported'];
  /** SIGTERM, then SIGKILL after stopGraceMs; removes the work dir unless keepWorkDir. */
  stop(): Promise<void>;
}

const POLL_INTERVAL_MS = 250;
const PROBE_TIMEOUT_MS = 2_000;

export async function startCassandra(options: StartCassandraOptions = {}): Promise<RunningCassandra> {
  const libDir = options.libDir ?? path.join(defaultCassandraInstallDir(), 'lib');
  const jammAgentJar = findJammJar(libDir);
  const workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'weir-cassandra-'));
  const { nativePort, storagePort, sslStoragePort, jmxPort } = await pickNodePorts();
  const host = options.host ?? LOOPBACK_HOST;
  const files = writeCassandraNodeFiles(workDir, { nativePort, storagePort, sslStoragePort }, options.clusterName ?? 'weir-test', { host, auditLog: options.auditLog });
  const javaOutput = path.join(workDir, 'java-output.log');
  const startedAt = Date.now();
  const javaBinary = options.javaBinary ?? resolveJavaBinary();
  const [command, ...launcherArgs] = options.launcher === undefined || options.launcher.length === 0 ? [javaBinary] : [...options.launcher, javaBinary];
  const java = spawnServer({
    command: command ?? javaBinary,
    args: [...launcherArgs, ...cassandraJvmArguments({
      libDir,
      jammAgentJar,
      initialHeap: options.initialHeap ?? '512m',
      maxHeap: options.maxHeap ?? '1g',
      jmxPort,
      configFile: files.configFile,
      logbackFile: files.logbackFile,
      workDir,
    })],
    cwd: workDir,
    outputFile: javaOutput,
  });
  const keepWorkDir = options.keepWorkDir === true;
  const stop = async (): Promise<void> => {
    await java.stop(options.stopGraceMs ?? 15_000);
    if (!keepWorkDir) fs.rmSync(workDir, { recursive: true, force: true });
  };
  try {
    const handshake = await waitUntilServing(java, host, nativePort, options.readyTimeoutMs ?? 90_000, options.probe ?? cqlHandshake, () => failureDetails(java, files.systemLog, workDir, keepWorkDir));
    return {
      pid: java.pid,
      host,
      nativePort,
      storagePort,
      jmxPort,
      workDir,
      systemLog: files.systemLog,
      ...(files.auditLog !== undefined ? { auditLog: files.auditLog } : {}),
      startupMs: Date.now() - startedAt,
      supported: handshake.supported,
      stop,
    };
  } catch (error) {
    await java.stop(2_000);
    if (!keepWorkDir) fs.rmSync(workDir, { recursive: true, force: true });
    throw error;
  }
}

async function waitUntilServing(java: ServerProcess, host: string, nativePort: number, timeoutMs: number, probe: NonNullable<StartCassandraOptions['probe']>, details: () => string): Promise<CqlHandshake> {
  const deadline = Date.now() + timeoutMs;
  let lastProbeError = 'not tried yet';
  for (;;) {
    const exit = java.exitStatus();
    if (exit !== undefined) {
      throw new Error(`Cassandra (pid ${java.pid}) exited during start-up with ${exit.code === null ? `signal ${exit.signal}` : `status ${exit.code}`}.\n${details()}`);
    }
    try {
      return await probe(host, nativePort, PROBE_TIMEOUT_MS);
    } catch (error) {
      lastProbeError = error instanceof Error ? error.message : String(error);
    }
    if (Date.now() > deadline) {
      throw new Error(`Cassandra (pid ${java.pid}) did not answer CQL on ${host}:${nativePort} within ${timeoutMs} ms (last attempt: ${lastProbeError}).\n${details()}`);
    }
    await new Promise((resolve) => setTimeout(resolve, POLL_INTERVAL_MS));
  }
}

function failureDetails(java: ServerProcess, systemLog: string, workDir: string, keepWorkDir: boolean): string {
  const logTail = readFileTail(systemLog, 12_000).split('\n').slice(-40).join('\n');
  return [
    `--- JVM output (tail) ---\n${java.outputTail(20) || '(none)'}`,
    `--- ${systemLog} (tail) ---\n${logTail || '(empty)'}`,
    keepWorkDir ? `Work dir kept: ${workDir}` : `Work dir ${workDir} is removed; pass keepWorkDir: true to keep it.`,
  ].join('\n');
}

function findJammJar(libDir: string): string {
  let names: string[];
  try {
    names = fs.readdirSync(libDir);
  } catch {
    throw new Error(`startCassandra: no Cassandra jars in ${libDir}; run installCassandra() (npm run setup) first`);
  }
  const jamm = names.find((name) => /^jamm-[\d.]+\.jar$/.test(name));
  if (jamm === undefined) throw new Error(`startCassandra: ${libDir} has no jamm-*.jar, so it is not a complete Cassandra install; run installCassandra() again`);
  return path.join(libDir, jamm);
}

async function pickNodePorts(): Promise<{ nativePort: number; storagePort: number; sslStoragePort: number; jmxPort: number }> {
  const taken = new Set<number>();
  const next = async (): Promise<number> => {
    for (;;) {
      const port = await freeLoopbackPort();
      if (!taken.has(port)) {
        taken.add(port);
        return port;
      }
    }
  };
  return { nativePort: await next(), storagePort: await next(), sslStoragePort: await next(), jmxPort: await next() };
}
