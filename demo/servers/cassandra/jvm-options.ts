// The JVM command line for one Cassandra 5.0 node on Java 17: heap, GC, the module-system openings
// Cassandra needs on Java 17 (the set its own conf/jvm17-server.options carries), Netty settings,
// and the system properties that make a single test node start fast and stay on loopback.
// The node's cassandra.yaml and logback.xml are written by node-config.ts.
import path from 'node:path';

export interface CassandraJvmSettings {
  libDir: string;
  /** The jamm jar from libDir, loaded as a Java agent. */
  jammAgentJar: string;
  /** -Xms / -Xmx values, e.g. "512m", "1g". */
  initialHeap: string;
  maxHeap: string;
  /** JMX listens on 127.0.0.1 only, on this port (nodetool could use it; nothing remote). */
  jmxPort: number;
  configFile: string;
  logbackFile: string;
  workDir: string;
}

export const CASSANDRA_MAIN_CLASS = 'org.apache.cassandra.service.CassandraDaemon';

/**
 * Java 17 keeps JDK internals closed to the class path. Cassandra reaches into them for off-heap
 * memory and Unsafe (jdk.internal.misc, sun.misc, jdk.internal.ref), object sizing (jamm walks
 * java.lang, java.util and reflection), JMX/RMI plumbing, the in-process attach API and the Java
 * compiler used for user-defined functions, and Netty's direct NIO access (sun.nio.ch).
 * Without these the node stops during start-up with IllegalAccessError or InaccessibleObjectException.
 */
export const JAVA17_MODULE_OPENINGS: readonly string[] = [
  ...exportsToClassPath([
    'java.base/jdk.internal.misc',
    'java.base/java.lang.ref',
    'jdk.unsupported/sun.misc',
    'java.management.rmi/com.sun.jmx.remote.internal.rmi',
    'java.rmi/sun.rmi.registry',
    'java.rmi/sun.rmi.server',
    'java.sql/java.sql',
    'jdk.compiler/com.sun.tools.javac.file',
    'jdk.attach/sun.tools.attach',
  ]),
  ...opensToClassPath([
    'java.base/java.lang',
    'java.base/java.lang.module',
    'java.base/java.lang.reflect',
    'java.base/java.io',
    'java.base/java.util',
    'java.base/jdk.internal.loader',
    'java.base/jdk.internal.ref',
    'java.base/jdk.internal.reflect',
    'java.base/jdk.internal.math',
    'java.base/jdk.internal.module',
    'java.base/jdk.internal.util.jar',
    'java.base/sun.nio.ch',
    'jdk.management/com.sun.management.internal',
    'jdk.compiler/com.sun.tools.javac',
  ]),
];

/** Start-up shortcuts for a single throwaway node: no waiting for a ring that has one member. */
export const SINGLE_NODE_SHORTCUTS: readonly string[] = [
  '-Dcassandra.skip_wait_for_gossip_to_settle=0',
  '-Dcassandra.ring_delay_ms=100',
  '-Dcassandra.superuser_setup_delay_ms=0',
  // The memtable row-overhead estimate builds 100,000 rows by default (about 3 s here); 100 is plenty.
  '-Dcassandra.memtable_row_overhead_computation_step=100',
  // System tables skip fsync: a test node's data is thrown away with its temp dir.
  '-Dcassandra.unsafesystem=true',
];

export function cassandraJvmArguments(settings: CassandraJvmSettings): string[] {
  return [
    `-Xms${settings.initialHeap}`,
    `-Xmx${settings.maxHeap}`,
    '-Xss256k',
    '-XX:+UseG1GC',
    '-XX:+ParallelRefProcEnabled',
    '-XX:MaxGCPauseMillis=300',
    '-XX:+ExitOnOutOfMemoryError',
    '-XX:+PerfDisableSharedMem',
    '-ea',
    // jamm measures object sizes for memtable accounting; Cassandra loads it as an agent.
    `-javaagent:${settings.jammAgentJar}`,
    '-Djdk.attach.allowAttachSelf=true',
    ...JAVA17_MODULE_OPENINGS,
    // Netty: allow Unsafe-backed direct buffers, and keep the allocator defaults Cassandra was tuned with.
    '-Dio.netty.tryReflectionSetAccessible=true',
    '-Dio.netty.allocator.useCacheForAllThreads=true',
    '-Dio.netty.allocator.maxOrder=11',
    '-Djava.net.preferIPv4Stack=true',
    `-Dcassandra.config=file://${settings.configFile}`,
    `-Dlogback.configurationFile=file://${settings.logbackFile}`,
    `-Dcassandra.logdir=${settings.workDir}`,
    `-Dcassandra.storagedir=${settings.workDir}`,
    `-Dcassandra.jmx.local.port=${settings.jmxPort}`,
    '-Dcassandra-foreground=yes',
    ...SINGLE_NODE_SHORTCUTS,
    '-cp',
    path.join(settings.libDir, '*'),
    CASSANDRA_MAIN_CLASS,
  ];
}

function exportsToClassPath(packages: string[]): string[] {
  return packages.flatMap((modulePackage) => ['--add-exports', `${modulePackage}=ALL-UNNAMED`]);
}

function opensToClassPath(packages: string[]): string[] {
  return packages.flatMap((modulePackage) => ['--add-opens', `${modulePackage}=ALL-UNNAMED`]);
}
