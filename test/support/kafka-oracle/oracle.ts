// Runs KafkaWireOracle.java (beside this file) on the installed Kafka jars: Kafka's own serializer
// writes a request of every API key at every version, and Kafka's own response parser says
// whether a frame is a response the Java client accepts. Compiled once into .weir/kafka/oracle.
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { resolveJavaBinary } from '../../../demo/servers/cassandra/java-runtime.ts';
import { defaultKafkaInstallDir, kafkaClassPath } from '../../../demo/servers/kafka/install.ts';

const source = path.join(path.dirname(fileURLToPath(import.meta.url)), 'KafkaWireOracle.java');
const libDir = path.join(defaultKafkaInstallDir(), 'lib');
const classesDir = path.join(defaultKafkaInstallDir(), 'oracle');

export interface OracleRequest {
  apiKey: number;
  version: number;
  frame: Buffer;
}

export interface OracleVerdict {
  ok: boolean;
  apiKey: number;
  version: number;
  /** `{TOPIC_AUTHORIZATION_FAILED=1, ...}` when ok, the Java exception otherwise. */
  detail: string;
}

function compiled(): string {
  const classFile = path.join(classesDir, 'KafkaWireOracle.class');
  if (!fs.existsSync(classFile) || fs.statSync(classFile).mtimeMs < fs.statSync(source).mtimeMs) {
    fs.mkdirSync(classesDir, { recursive: true });
    const java = resolveJavaBinary();
    const javac = java === 'java' ? 'javac' : path.join(path.dirname(java), 'javac');
    execFileSync(javac, ['-d', classesDir, '-cp', kafkaClassPath(libDir), source], { stdio: 'pipe' });
  }
  return `${kafkaClassPath(libDir)}${path.delimiter}${classesDir}`;
}

function runOracle(mode: 'requests' | 'responses', input = ''): string {
  const result = spawnSync(resolveJavaBinary(), ['-cp', compiled(), 'KafkaWireOracle', mode], { input, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  if (result.status !== 0) throw new Error(`KafkaWireOracle ${mode} failed (${result.status ?? result.signal}): ${result.stderr}`);
  return result.stdout;
}

/** A request of every API key at every version Kafka's client jar knows, serialized by Kafka. */
export function oracleRequests(): OracleRequest[] {
  return runOracle('requests')
    .split('\n')
    .filter((line) => line !== '' && !line.startsWith('skip'))
    .map((line) => {
      const [key, version, hex] = line.split(' ');
      return { apiKey: Number(key), version: Number(version), frame: Buffer.from(hex!, 'hex') };
    });
}

/** Kafka's Java client's verdict on each frame as the response to (key, version, correlation id). */
export function oracleParseResponses(frames: readonly { apiKey: number; version: number; correlationId: number; frame: Buffer }[]): OracleVerdict[] {
  const input = frames.map((f) => `${f.apiKey} ${f.version} ${f.correlationId} ${f.frame.toString('hex')}`).join('\n');
  return runOracle('responses', `${input}\n`)
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => {
      const [verdict, key, version, ...rest] = line.split(' ');
      return { ok: verdict === 'ok', apiKey: Number(key), version: Number(version), detail: rest.join(' ') };
    });
}
