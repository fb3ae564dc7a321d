// Finds the Java that runs Cassandra (JAVA_HOME/bin/java, else `java` on PATH) and reads its major
// version, so the installer can refuse a Java that Cassandra 5.0 does not support (it runs on 11
// and 17) before anything is downloaded.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

export const SUPPORTED_JAVA_MAJORS: readonly number[] = [11, 17];

export function resolveJavaBinary(): string {
  const javaHome = process.env.JAVA_HOME;
  if (javaHome !== undefined && javaHome !== '') {
    const candidate = path.join(javaHome, 'bin', 'java');
    if (fs.existsSync(candidate)) return candidate;
  }
  return 'java';
}

/** The major version `java -version` reports (17 for "17.0.15"), or an error saying why none was read. */
export function javaMajorVersion(javaBinary: string): number | Error {
  const result = spawnSync(javaBinary, ['-version'], { encoding: 'utf8' });
  if (result.error !== undefined) {
    return new Error(`could not run ${javaBinary} -version: ${result.error.message}; install Java 17 (apt-get install -y openjdk-17-jre-headless) or set JAVA_HOME`);
  }
  const banner = `${result.stderr}${result.stdout}`;
  const match = /version "(\d+)(?:\.(\d+))?/.exec(banner);
  if (match === null) return new Error(`could not read a version from ${javaBinary} -version: ${banner.trim()}`);
  const major = Number(match[1]);
  return major === 1 ? Number(match[2]) : major;
}
