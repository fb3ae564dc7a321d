// The processes of the Kafka demo, started the way a user would start them: a Kafka 4.4 broker from
// Maven Central (KRaft, loopback), `weir serve` guarding the `kafka-broker` endpoint with the kafka
// parser, and an Envoy from `weir bootstrap` with the Weir agent (demo/guarded-server.ts). The
// broker has a listener for the proxied clients whose advertised address is the members' relay
// (members.ts), so every connection a Kafka client opens after bootstrapping (to the partition
// leader, to its group coordinator) goes through Envoy too. Every port is a free one.
import path from 'node:path';
import { projectRoot } from '../servers/project-paths.ts';
import { prepareStateDir, startGuardedServer, type GuardedServer } from '../guarded-server.ts';
import { say } from '../outcome-log.ts';
import { freeLoopbackPort } from '../servers/loopback-port.ts';
import { installKafka } from '../servers/kafka/install.ts';
import { startKafka, type RunningKafka } from '../servers/kafka/runner.ts';
import { openStage, type Stage } from './members.ts';

export const KAFKA_DEMO = {
  stateDir: path.join(projectRoot, '.weir', 'demo-kafka'),
  nodeId: 'weir-kafka',
  serverEndpoint: 'kafka-broker',
  parser: 'kafka',
  /** The port the guide's policy names: the redirect's endpointPort, whatever port the broker listens on. */
  guidePort: 9092,
  /** Kafka requests up to the clients' default max.request.size (1 MiB) plus headers. */
  maxBufferBytes: 8 * 1024 * 1024,
} as const;

export interface KafkaDeployment extends GuardedServer {
  broker: RunningKafka;
  /** The members' relay: the address the broker advertises to proxied clients. */
  stage: Stage;
}

const PROXIED_LISTENER = 'EMPIRE';

export async function deployKafka(options: { endpointsFile: string }): Promise<KafkaDeployment> {
  prepareStateDir({ stateDir: KAFKA_DEMO.stateDir, endpointsFile: options.endpointsFile });
  const installation = installKafka({ say: () => undefined });
  const stagePort = await freeLoopbackPort();
  const broker = await startKafka({ proxiedListeners: [{ name: PROXIED_LISTENER, advertisedPort: stagePort }] });
  const backendPort = broker.listenerPorts[PROXIED_LISTENER]!;
  say(`kafka ${installation.version}       pid ${broker.pid}, 127.0.0.1:${backendPort} for the Empire (the guide's kafka-service:${KAFKA_DEMO.guidePort}), 127.0.0.1:${broker.port} direct; up in ${(broker.startupMs / 1000).toFixed(1)} s`);
  try {
    const guarded = await startGuardedServer({ ...KAFKA_DEMO, backendPort });
    const stage = await openStage(stagePort, guarded.proxyPort);
    return {
      ...guarded,
      broker,
      stage,
      stop: async () => {
        await stage.close();
        await guarded.stop();
        await broker.stop();
      },
    };
  } catch (error) {
    await broker.stop();
    throw error;
  }
}
