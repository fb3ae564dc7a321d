// Writes the two files one throwaway Cassandra node reads at start-up: cassandra.yaml (single node,
// everything on 127.0.0.1, the given ports, all data under the node's work dir, small caches) and
// logback.xml (INFO to system.log in the work dir). With `auditLog`, Cassandra's audit log is on
// (FileAuditLogger, every keyspace and category) and logback writes its entries, one per line
// group, to audit.log in the work dir: the server's own record of what it executed, for tests
// that check Weir against it. The JVM command line is jvm-options.ts's.
import fs from 'node:fs';
import path from 'node:path';
import { stringify } from 'yaml';

export interface CassandraNodePorts {
  nativePort: number;
  storagePort: number;
  sslStoragePort: number;
}

export interface CassandraNodeFiles {
  configFile: string;
  logbackFile: string;
  systemLog: string;
  /** Cassandra's audit log (FileAuditLogger), when asked for. */
  auditLog?: string;
}

export const LOOPBACK_HOST = '127.0.0.1';

export function writeCassandraNodeFiles(workDir: string, ports: CassandraNodePorts, clusterName: string, options: { host?: string; auditLog?: boolean } = {}): CassandraNodeFiles {
  const files: CassandraNodeFiles = {
    configFile: path.join(workDir, 'cassandra.yaml'),
    logbackFile: path.join(workDir, 'logback.xml'),
    systemLog: path.join(workDir, 'system.log'),
    ...(options.auditLog === true ? { auditLog: path.join(workDir, 'audit.log') } : {}),
  };
  const yaml = cassandraYaml(workDir, ports, clusterName, options.host ?? LOOPBACK_HOST);
  if (files.auditLog !== undefined) yaml.audit_logging_options = AUDIT_EVERYTHING;
  fs.writeFileSync(files.configFile, stringify(yaml));
  fs.writeFileSync(files.logbackFile, logbackXml(files.systemLog, files.auditLog));
  return files;
}

// Every keyspace (Cassandra leaves out system, system_schema and system_virtual_schema by
// default) and every category, through the logger that writes plain lines.
const AUDIT_EVERYTHING = {
  enabled: true,
  logger: { class_name: 'FileAuditLogger' },
  included_keyspaces: '',
  excluded_keyspaces: '',
  included_categories: '',
  excluded_categories: '',
};
export const AUDIT_LOGGER_NAME = 'org.apache.cassandra.audit.FileAuditLogger';

function cassandraYaml(workDir: string, ports: CassandraNodePorts, clusterName: string, host: string): Record<string, unknown> {
  return {
    cluster_name: clusterName,
    // One token at 0: the node owns the whole ring and never computes a token allocation.
    num_tokens: 1,
    initial_token: '0',
    auto_bootstrap: false,
    partitioner: 'org.apache.cassandra.dht.Murmur3Partitioner',
    endpoint_snitch: 'SimpleSnitch',
    seed_provider: [
      { class_name: 'org.apache.cassandra.locator.SimpleSeedProvider', parameters: [{ seeds: `${host}:${ports.storagePort}` }] },
    ],
    listen_address: host,
    rpc_address: host,
    storage_port: ports.storagePort,
    ssl_storage_port: ports.sslStoragePort,
    start_native_transport: true,
    native_transport_port: ports.nativePort,
    data_file_directories: [path.join(workDir, 'data')],
    commitlog_directory: path.join(workDir, 'commitlog'),
    saved_caches_directory: path.join(workDir, 'saved_caches'),
    hints_directory: path.join(workDir, 'hints'),
    cdc_raw_directory: path.join(workDir, 'cdc_raw'),
    commitlog_sync: 'periodic',
    commitlog_sync_period: '10000ms',
    // Small off-heap caches keep the whole process near its heap size.
    file_cache_size: '64MiB',
    key_cache_size: '16MiB',
    concurrent_compactors: 1,
  };
}

function logbackXml(systemLog: string, auditLog: string | undefined): string {
  const audit =
    auditLog === undefined
      ? []
      : [
          '  <appender name="AUDITLOG" class="ch.qos.logback.core.FileAppender">',
          `    <file>${auditLog}</file>`,
          '    <encoder><pattern>%msg%n</pattern></encoder>',
          '  </appender>',
          `  <logger name="${AUDIT_LOGGER_NAME}" level="INFO" additivity="false"><appender-ref ref="AUDITLOG"/></logger>`,
        ];
  return [
    '<configuration>',
    '  <appender name="SYSTEMLOG" class="ch.qos.logback.core.FileAppender">',
    `    <file>${systemLog}</file>`,
    '    <encoder><pattern>%-5level [%thread] %date{ISO8601} %F:%L - %msg%n</pattern></encoder>',
    '  </appender>',
    ...audit,
    '  <root level="INFO"><appender-ref ref="SYSTEMLOG"/></root>',
    '</configuration>',
    '',
  ].join('\n');
}
