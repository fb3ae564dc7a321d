// The files one throwaway Kafka broker runs from: server.properties for a single-node KRaft cluster
// (this process is broker and controller, both on loopback ports given by the caller) and a log4j2
// configuration that writes the broker's log, and optionally Kafka's request log (every request
// the broker handled, with its header and body), to files in the broker's work dir.
import fs from 'node:fs';

export const KRAFT_NODE_ID = 1;
export const LOOPBACK_HOST = '127.0.0.1';

/**
 * A further client listener: the broker listens on `port` and tells clients that connect there to
 * reach it at `advertisedPort` (an Envoy in front of it), so every later connection of those
 * clients (to the partition leader, to the group coordinator) goes through that Envoy too.
 */
export interface ProxiedListener {
  name: string;
  port: number;
  advertisedPort: number;
}

export interface BrokerPropertiesOptions {
  logDir: string;
  brokerPort: number;
  controllerPort: number;
  proxiedListeners?: readonly ProxiedListener[];
  /** socket.request.max.bytes; Kafka's default is 100 MiB. */
  maxRequestBytes?: number;
}

export function writeBrokerProperties(file: string, options: BrokerPropertiesOptions): void {
  const proxied = options.proxiedListeners ?? [];
  const listeners = [`PLAINTEXT://${LOOPBACK_HOST}:${options.brokerPort}`, ...proxied.map((l) => `${l.name}://${LOOPBACK_HOST}:${l.port}`)];
  const advertised = [`PLAINTEXT://${LOOPBACK_HOST}:${options.brokerPort}`, ...proxied.map((l) => `${l.name}://${LOOPBACK_HOST}:${l.advertisedPort}`)];
  const protocols = ['PLAINTEXT:PLAINTEXT', 'CONTROLLER:PLAINTEXT', ...proxied.map((l) => `${l.name}:PLAINTEXT`)];
  const lines = [
    'process.roles=broker,controller',
    `node.id=${KRAFT_NODE_ID}`,
    `controller.quorum.voters=${KRAFT_NODE_ID}@${LOOPBACK_HOST}:${options.controllerPort}`,
    `listeners=${[...listeners, `CONTROLLER://${LOOPBACK_HOST}:${options.controllerPort}`].join(',')}`,
    `advertised.listeners=${advertised.join(',')}`,
    'controller.listener.names=CONTROLLER',
    `listener.security.protocol.map=${protocols.join(',')}`,
    'inter.broker.listener.name=PLAINTEXT',
    `log.dirs=${options.logDir}`,
    'num.partitions=1',
    // One broker: internal topics cannot have more replicas than that.
    'offsets.topic.replication.factor=1',
    'offsets.topic.num.partitions=1',
    'transaction.state.log.replication.factor=1',
    'transaction.state.log.min.isr=1',
    'share.coordinator.state.topic.replication.factor=1',
    'share.coordinator.state.topic.min.isr=1',
    // Consumers join at once instead of waiting 3 s for more members.
    'group.initial.rebalance.delay.ms=0',
    // Topics exist only when a test creates them, so a denied request cannot create one by accident.
    'auto.create.topics.enable=false',
    ...(options.maxRequestBytes !== undefined ? [`socket.request.max.bytes=${options.maxRequestBytes}`] : []),
  ];
  fs.writeFileSync(file, `${lines.join('\n')}\n`);
}

export interface BrokerLogOptions {
  brokerLog: string;
  /** Also write kafka.request.logger at DEBUG (one line per request handled) to this file. */
  requestLog?: string;
}

export function writeBrokerLog4j(file: string, options: BrokerLogOptions): void {
  const lines = [
    'status = error',
    'appender.broker.type = File',
    'appender.broker.name = BROKER',
    `appender.broker.fileName = ${options.brokerLog}`,
    'appender.broker.layout.type = PatternLayout',
    'appender.broker.layout.pattern = [%d] %p %m (%c)%n',
    'rootLogger.level = INFO',
    'rootLogger.appenderRef.broker.ref = BROKER',
  ];
  if (options.requestLog !== undefined) {
    lines.push(
      'appender.requests.type = File',
      'appender.requests.name = REQUESTS',
      `appender.requests.fileName = ${options.requestLog}`,
      'appender.requests.layout.type = PatternLayout',
      'appender.requests.layout.pattern = %m%n',
      'logger.requests.name = kafka.request.logger',
      'logger.requests.level = DEBUG',
      'logger.requests.additivity = false',
      'logger.requests.appenderRef.requests.ref = REQUESTS',
    );
  }
  fs.writeFileSync(file, `${lines.join('\n')}\n`);
}
