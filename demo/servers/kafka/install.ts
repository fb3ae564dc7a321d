// Installs Apache Kafka from Maven Central: copies the broker (org.apache.kafka:kafka_2.13), Kafka's
// command-line tools (kafka-tools) and their runtime jars into .weir/kafka/lib with
// `mvn dependency:copy-dependencies` (see pom.xml beside this file), after checking that the local
// Java can run a Kafka 4 broker (Java 17 or later). It then formats one KRaft storage directory as
// a template (`.weir/kafka/storage-template`), so each broker a test starts copies it instead of
// paying a JVM start for `kafka-storage format`. Idempotent: a marker records the version and the
// pom, and a second run with both unchanged returns at once. Starting a broker is runner.ts's job.
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { countJars, installIsCurrent, wantedMarker, writeMarker } from '../maven-install-marker.ts';
import { weirStateDir } from '../project-paths.ts';
import { runInstallCommand, sayOnConsole, type SetupReporter } from '../setup-report.ts';
import { javaMajorVersion, resolveJavaBinary } from '../cassandra/java-runtime.ts';
import { writeBrokerProperties, KRAFT_NODE_ID } from './broker-config.ts';

export const KAFKA_VERSION = '4.4.0';
/** Kafka 4 brokers need Java 17 or later (KIP-750). */
export const KAFKA_MIN_JAVA_MAJOR = 17;

export interface InstallKafkaOptions {
  /** Where lib/, the storage template and the marker go; default `<repo>/.weir/kafka`. */
  installDir?: string;
  say?: SetupReporter;
}

export interface KafkaInstallation {
  version: string;
  /** The folder of jars: kafka_2.13, kafka-tools and every runtime dependency. */
  libDir: string;
  /** A formatted KRaft log directory (node id 1) to copy for each broker. */
  storageTemplate: string;
  javaBinary: string;
  javaMajor: number;
}


const pomFile = path.join(path.dirname(fileURLToPath(import.meta.url)), 'pom.xml');

export function defaultKafkaInstallDir(): string {
  return path.join(weirStateDir, 'kafka');
}

export function kafkaClassPath(libDir: string): string {
  return path.join(libDir, '*');
}

export function installKafka(options: InstallKafkaOptions = {}): KafkaInstallation {
  const say = options.say ?? sayOnConsole;
  const installDir = options.installDir ?? defaultKafkaInstallDir();
  const libDir = path.join(installDir, 'lib');
  const storageTemplate = path.join(installDir, 'storage-template');
  const markerFile = path.join(installDir, 'installed.json');
  const javaBinary = resolveJavaBinary();
  const javaMajor = requireKafkaJava(javaBinary);
  const wanted = wantedMarker(KAFKA_VERSION, pomFile);
  const installation = { version: KAFKA_VERSION, libDir, storageTemplate, javaBinary, javaMajor };

  const marker = installIsCurrent(markerFile, libDir, wanted);
  if (marker !== undefined && fs.existsSync(path.join(storageTemplate, 'meta.properties'))) {
    say(`Kafka ${KAFKA_VERSION}: already installed in ${path.relative(process.cwd(), libDir) || libDir} (${marker.jarCount} jars, Java ${javaMajor})`);
    return installation;
  }

  say(`Kafka ${KAFKA_VERSION}: fetching org.apache.kafka:kafka_2.13, kafka-tools and their runtime jars from Maven Central (mvn, about 55 MB, under a minute the first time)`);
  const stagingDir = `${libDir}.partial`;
  fs.rmSync(stagingDir, { recursive: true, force: true });
  fs.mkdirSync(installDir, { recursive: true });
  runInstallCommand({
    command: 'mvn',
    args: ['-q', '-B', '-Dstyle.color=never', '-f', pomFile, `-Dkafka.version=${KAFKA_VERSION}`, '-DincludeScope=runtime', `-DoutputDirectory=${stagingDir}`, 'dependency:copy-dependencies'],
    remedy: 'Check that Maven (apt-get install -y maven) is installed and that Maven Central (repo1.maven.org) is reachable, then run the set-up again.',
  });
  fs.rmSync(libDir, { recursive: true, force: true });
  fs.renameSync(stagingDir, libDir);
  const jarCount = countJars(libDir);
  if (!fs.existsSync(path.join(libDir, `kafka_2.13-${KAFKA_VERSION}.jar`))) {
    throw new Error(`[weir setup] mvn finished but ${libDir} has no kafka_2.13-${KAFKA_VERSION}.jar; look at the mvn output above`);
  }
  say(`Kafka ${KAFKA_VERSION}: formatting a KRaft storage template (kafka.tools.StorageTool format, one JVM start)`);
  formatStorageTemplate(javaBinary, libDir, storageTemplate);
  writeMarker(markerFile, { ...wanted, jarCount });
  say(`Kafka ${KAFKA_VERSION}: installed ${jarCount} jars in ${libDir}`);
  return installation;
}

// Formats a log directory for node 1 of a single-node KRaft cluster with a random cluster id. The
// ports in the properties file do not matter: format records only ids and feature levels.
function formatStorageTemplate(javaBinary: string, libDir: string, storageTemplate: string): void {
  const staging = `${storageTemplate}.partial`;
  fs.rmSync(staging, { recursive: true, force: true });
  fs.mkdirSync(staging, { recursive: true });
  const propertiesFile = path.join(path.dirname(storageTemplate), 'format.properties');
  writeBrokerProperties(propertiesFile, { logDir: staging, brokerPort: 9092, controllerPort: 9093 });
  const clusterId = randomBytes(16).toString('base64url');
  const result = spawnSync(javaBinary, ['-cp', kafkaClassPath(libDir), 'kafka.tools.StorageTool', 'format', '-t', clusterId, '-c', propertiesFile], { encoding: 'utf8' });
  if (result.status !== 0) {
    throw new Error(`[weir setup] kafka-storage format (node ${KRAFT_NODE_ID}) failed with ${result.status ?? result.signal}:\n${result.stdout}${result.stderr}`);
  }
  fs.rmSync(storageTemplate, { recursive: true, force: true });
  fs.renameSync(staging, storageTemplate);
  fs.rmSync(propertiesFile, { force: true });
}

function requireKafkaJava(javaBinary: string): number {
  const major = javaMajorVersion(javaBinary);
  if (major instanceof Error) throw new Error(`[weir setup] Kafka needs Java: ${major.message}`);
  if (major < KAFKA_MIN_JAVA_MAJOR) {
    throw new Error(`[weir setup] Kafka ${KAFKA_VERSION} brokers run on Java ${KAFKA_MIN_JAVA_MAJOR} or later, but ${javaBinary} is Java ${major}; install openjdk-17 or point JAVA_HOME at one`);
  }
  return major;
}



