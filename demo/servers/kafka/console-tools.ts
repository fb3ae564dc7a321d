// Kafka's own Java console producer and consumer (org.apache.kafka.tools.*, in the kafka-tools jar
// installed with the broker): the current-protocol clients of the tests and the demo (Produce v13
// and Fetch v18 by topic id, idempotent producers, and with group.protocol=consumer the KIP-848
// consumer group protocol). Each call runs one JVM to completion.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { resolveJavaBinary } from '../cassandra/java-runtime.ts';
import { defaultKafkaInstallDir, kafkaClassPath } from './install.ts';

export interface ConsoleRun {
  code: number | null;
  /** The records (consumer) or nothing (producer); log4j's default configuration also prints errors here. */
  stdout: string;
  stderr: string;
}

interface ToolOptions {
  bootstrap: string;
  topic: string;
  /** Client properties (`--command-property` / `--consumer-property`), e.g. client.id. */
  properties?: Readonly<Record<string, string>>;
  installDir?: string;
  /** Kills the JVM after this long; default 120 s. */
  timeoutMs?: number;
}

export interface ConsoleProducerOptions extends ToolOptions {
  /** One record per line. */
  lines: readonly string[];
}

export interface ConsoleConsumerOptions extends ToolOptions {
  group?: string;
  maxMessages: number;
  /** The consumer exits after this long without a record (--timeout-ms). */
  idleTimeoutMs: number;
}

export function runConsoleProducer(options: ConsoleProducerOptions): Promise<ConsoleRun> {
  const args = ['org.apache.kafka.tools.ConsoleProducer', '--bootstrap-server', options.bootstrap, '--topic', options.topic];
  for (const [key, value] of Object.entries(options.properties ?? {})) args.push('--command-property', `${key}=${value}`);
  return runTool(options, args, `${options.lines.join('\n')}\n`);
}

export function runConsoleConsumer(options: ConsoleConsumerOptions): Promise<ConsoleRun> {
  const args = [
    'org.apache.kafka.tools.consumer.ConsoleConsumer',
    '--bootstrap-server', options.bootstrap,
    '--topic', options.topic,
    '--from-beginning',
    '--max-messages', String(options.maxMessages),
    '--timeout-ms', String(options.idleTimeoutMs),
  ];
  if (options.group !== undefined) args.push('--group', options.group);
  for (const [key, value] of Object.entries(options.properties ?? {})) args.push('--command-property', `${key}=${value}`);
  return runTool(options, args, '');
}

function runTool(options: ToolOptions, toolArgs: string[], input: string): Promise<ConsoleRun> {
  const libDir = path.join(options.installDir ?? defaultKafkaInstallDir(), 'lib');
  const java = spawn(resolveJavaBinary(), ['-Xmx256m', '-XX:TieredStopAtLevel=1', '-cp', kafkaClassPath(libDir), ...toolArgs], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  java.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
  java.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  java.stdin.end(input);
  const timer = setTimeout(() => java.kill('SIGKILL'), options.timeoutMs ?? 120_000);
  return new Promise((resolve) => {
    java.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}
