// The Empire's Kafka clients. Weir tells endpoints apart by source address, and there are no pods
// here, so clients connect to a relay on 127.0.0.1 that connects on to Envoy from the address of
// the member on stage (empire-hq, an outpost, empire-backup: one at a time, as the demo's steps
// run). The broker advertises the relay, so a client's later connections come through it too.
// Each member talks as the guide's do, with Kafka's own console producer and consumer, and with
// kafkajs beside them; every call resolves to the text a user would see.
import net from 'node:net';
import { Kafka, logLevel, type Consumer } from 'kafkajs';
import { runConsoleConsumer, runConsoleProducer } from '../servers/kafka/console-tools.ts';

export interface Member {
  name: string;
  sourceAddress: string;
}

export interface Stage {
  port: number;
  /** Later connections to the relay come from `member`'s address. */
  enter(member: Member): void;
  close(): Promise<void>;
}

export async function openStage(port: number, proxyPort: number): Promise<Stage> {
  let sourceAddress = '127.0.0.1';
  const sockets = new Set<net.Socket>();
  const relay = net.createServer((client) => {
    const upstream = net.connect({ host: '127.0.0.1', port: proxyPort, localAddress: sourceAddress });
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on('error', () => {
        client.destroy();
        upstream.destroy();
      });
      socket.on('close', () => sockets.delete(socket));
    }
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise<void>((resolve, reject) => {
    relay.once('error', reject);
    relay.listen(port, '127.0.0.1', resolve);
  });
  return {
    port,
    enter: (member) => {
      sourceAddress = member.sourceAddress;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        relay.close(() => resolve());
      }),
  };
}

/** `kafka-console-producer --topic TOPIC` with `lines` on stdin: '' when every record was acknowledged, else the error. */
export async function consoleProduce(stage: Stage, member: Member, topic: string, lines: readonly string[]): Promise<string> {
  stage.enter(member);
  const run = await runConsoleProducer({ bootstrap: `127.0.0.1:${stage.port}`, topic, lines, properties: { 'client.id': member.name, 'max.block.ms': '20000' } });
  return errorLine(run.stdout + run.stderr) ?? (run.code === 0 ? '' : `exit ${run.code}`);
}

/** `kafka-console-consumer --topic TOPIC --from-beginning --max-messages N`: the records, or the error. */
export async function consoleConsume(stage: Stage, member: Member, topic: string, maxMessages: number): Promise<string> {
  stage.enter(member);
  const run = await runConsoleConsumer({ bootstrap: `127.0.0.1:${stage.port}`, topic, group: `${member.name}-${topic}`, maxMessages, idleTimeoutMs: 20_000, properties: { 'client.id': member.name } });
  const error = errorLine(run.stdout + run.stderr);
  if (error !== undefined) return error;
  return run.stdout.split('\n').filter((line) => line !== '' && !line.startsWith('[')).join('\n');
}

// The first line that names a Kafka exception, as the console tools print it, without the log prefix.
function errorLine(output: string): string | undefined {
  const line = output.split('\n').find((l) => /org\.apache\.kafka\.common\.errors\.\w+Exception/.test(l));
  if (line === undefined) return undefined;
  const match = /(org\.apache\.kafka\.common\.errors\.\w+Exception: .*)$/.exec(line);
  return match?.[1] ?? line;
}

export function kafkajs(stage: Stage, member: Member): Kafka {
  stage.enter(member);
  return new Kafka({ clientId: member.name, brokers: [`127.0.0.1:${stage.port}`], logLevel: logLevel.NOTHING, retry: { retries: 1, initialRetryTime: 100 } });
}

/** kafkajs producer.send: 'acknowledged' or the error type kafkajs reports. */
export async function kafkajsProduce(stage: Stage, member: Member, topic: string, value: string): Promise<string> {
  const producer = kafkajs(stage, member).producer();
  await producer.connect();
  try {
    await producer.send({ topic, messages: [{ value }] });
    return 'acknowledged';
  } catch (error) {
    return kafkajsError(error);
  } finally {
    await producer.disconnect();
  }
}

export function kafkajsError(error: unknown): string {
  const e = error as { type?: string; cause?: { type?: string }; name?: string; message?: string };
  return e.type ?? e.cause?.type ?? `${e.name ?? 'Error'}: ${e.message ?? String(error)}`;
}

/** A kafkajs consumer that keeps reading `topic` and records what happens to it. */
export class StreamingConsumer {
  readonly values: string[] = [];
  crash: string | undefined;
  private consumer: Consumer;
  private waiters: Array<() => void> = [];

  constructor(stage: Stage, member: Member, group: string) {
    this.consumer = kafkajs(stage, member).consumer({ groupId: group, retry: { retries: 0 } });
  }

  async start(topic: string): Promise<void> {
    await this.consumer.connect();
    this.consumer.on(this.consumer.events.CRASH, (event) => {
      this.crash = kafkajsError(event.payload.error);
      this.wake();
    });
    await this.consumer.subscribe({ topic, fromBeginning: true });
    await this.consumer.run({
      eachMessage: async ({ message }) => {
        this.values.push(message.value?.toString() ?? '');
        this.wake();
      },
    });
  }

  /** Resolves once `count` records arrived, the consumer crashed, or `timeoutMs` passed (a hang). */
  async until(count: number, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.values.length < count && this.crash === undefined && Date.now() < deadline) {
      await new Promise<void>((resolve) => {
        this.waiters.push(resolve);
        setTimeout(resolve, Math.max(0, deadline - Date.now()));
      });
    }
  }

  stop(): Promise<void> {
    return this.consumer.disconnect();
  }

  private wake(): void {
    for (const waiter of this.waiters.splice(0)) waiter();
  }
}
