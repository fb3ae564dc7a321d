// Installs Cassandra from Maven Central: copies org.apache.cassandra:cassandra-all and its runtime
// jars into .weir/cassandra/lib with `mvn dependency:copy-dependencies` (see pom.xml beside this
// file), after checking that the local Java can run it. Idempotent: a marker records the version
// and the pom it came from, and a second run with both unchanged returns at once.
// Starting a node is runner.ts's job.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { countJars, installIsCurrent, wantedMarker, writeMarker } from '../maven-install-marker.ts';
import { weirStateDir } from '../project-paths.ts';
import { runInstallCommand, sayOnConsole, type SetupReporter } from '../setup-report.ts';
import { SUPPORTED_JAVA_MAJORS, javaMajorVersion, resolveJavaBinary } from './java-runtime.ts';

export const CASSANDRA_VERSION = '5.0.9';

export interface InstallCassandraOptions {
  /** Where lib/ and the marker go; default `<repo>/.weir/cassandra`. */
  installDir?: string;
  say?: SetupReporter;
}

export interface CassandraInstallation {
  version: string;
  /** The folder of jars: cassandra-all and every runtime dependency. */
  libDir: string;
  javaBinary: string;
  javaMajor: number;
}


const pomFile = path.join(path.dirname(fileURLToPath(import.meta.url)), 'pom.xml');

export function defaultCassandraInstallDir(): string {
  return path.join(weirStateDir, 'cassandra');
}

export function installCassandra(options: InstallCassandraOptions = {}): CassandraInstallation {
  const say = options.say ?? sayOnConsole;
  const installDir = options.installDir ?? defaultCassandraInstallDir();
  const libDir = path.join(installDir, 'lib');
  const markerFile = path.join(installDir, 'installed.json');
  const javaBinary = resolveJavaBinary();
  const javaMajor = requireSupportedJava(javaBinary);
  const wanted = wantedMarker(CASSANDRA_VERSION, pomFile);

  const marker = installIsCurrent(markerFile, libDir, wanted);
  if (marker !== undefined) {
    say(`Cassandra ${CASSANDRA_VERSION}: already installed in ${path.relative(process.cwd(), libDir) || libDir} (${marker.jarCount} jars, Java ${javaMajor})`);
    return { version: CASSANDRA_VERSION, libDir, javaBinary, javaMajor };
  }

  say(`Cassandra ${CASSANDRA_VERSION}: fetching org.apache.cassandra:cassandra-all and its runtime jars from Maven Central (mvn, about 70 MB, a minute the first time)`);
  const stagingDir = `${libDir}.partial`;
  fs.rmSync(stagingDir, { recursive: true, force: true });
  fs.mkdirSync(installDir, { recursive: true });
  runInstallCommand({
    command: 'mvn',
    args: ['-q', '-B', '-Dstyle.color=never', '-f', pomFile, `-Dcassandra.version=${CASSANDRA_VERSION}`, '-DincludeScope=runtime', `-DoutputDirectory=${stagingDir}`, 'dependency:copy-dependencies'],
    remedy: 'Check that Maven (apt-get install -y maven) is installed and that Maven Central (repo1.maven.org) is reachable, then run the set-up again.',
  });
  fs.rmSync(libDir, { recursive: true, force: true });
  fs.renameSync(stagingDir, libDir);
  const jarCount = countJars(libDir);
  if (!fs.existsSync(path.join(libDir, `cassandra-all-${CASSANDRA_VERSION}.jar`))) {
    throw new Error(`[weir setup] mvn finished but ${libDir} has no cassandra-all-${CASSANDRA_VERSION}.jar; look at the mvn output above`);
  }
  writeMarker(markerFile, { ...wanted, jarCount });
  say(`Cassandra ${CASSANDRA_VERSION}: installed ${jarCount} jars in ${libDir}`);
  return { version: CASSANDRA_VERSION, libDir, javaBinary, javaMajor };
}

function requireSupportedJava(javaBinary: string): number {
  const major = javaMajorVersion(javaBinary);
  if (major instanceof Error) throw new Error(`[weir setup] Cassandra needs Java: ${major.message}`);
  if (!SUPPORTED_JAVA_MAJORS.includes(major)) {
    throw new Error(`[weir setup] Cassandra ${CASSANDRA_VERSION} runs on Java ${SUPPORTED_JAVA_MAJORS.join(' or ')}, but ${javaBinary} is Java ${major}; install openjdk-17 or point JAVA_HOME at one`);
  }
  return major;
}



