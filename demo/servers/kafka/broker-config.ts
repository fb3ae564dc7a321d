// The files one throwaway Kafka broker runs from: server.properties for a single-node KRaft cluster
// (this process is broker and controller, both on loopback ports given by the caller) and a log4j2
// configuration that writes the broker's log, and optionally Kafka's request log (every request
// the broker handled, with its header and body), to files in the broker's work dir.
import fs from 'node:fs';

export const KRAFT_NODE_ID = 1;
export const LOOPBACK_HOST = '127.0.0.1';

export interface BrokerPropertiesOptions {
  logDir: string;
  brokerPort: number;
  controllerPort: number;
  /** socket.request.max.bytes; Kafka's default is 100 MiB. */
  maxRequestBytes?: number;
}

export function writeBrokerProperties(file: string, options: BrokerPropertiesOptions): void {
  const lines = [
    'process.roles=broker,controller',
    `node.id=${KRAFT_NODE_ID}`,
    `controller.quorum.voters=${KRAFT_NODE_ID}@${LOOPBACK_HOST}:${options.controllerPort}`,
    `listeners=PLAINTEXT://${LOOPBACK_HOST}:${options.brokerPort},CONTROLLER://${LOOPBACK_HOST}:${options.controllerPort}`,
    `advertised.listeners=PLAINTEXT://${LOOPBACK_HOST}:${options.brokerPort}`,
    'controller.listener.names=CONTROLLER',
    'listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT',
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
