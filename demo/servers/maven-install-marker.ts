// The marker a Maven-installed server (Cassandra, Kafka) leaves beside its jars: the version and
// the hash of the pom it was fetched with, and how many jars that gave. An install whose marker
// matches what is wanted, with that many jars still present, is up to date.
import { createHash } from 'node:crypto';
import fs from 'node:fs';

export interface MavenInstallMarker {
  version: string;
  pomSha256: string;
  jarCount: number;
}

/** What an install of `version` from `pomFile` would record (jarCount left to the caller). */
export function wantedMarker(version: string, pomFile: string): Omit<MavenInstallMarker, 'jarCount'> {
  return { version, pomSha256: createHash('sha256').update(fs.readFileSync(pomFile)).digest('hex') };
}

/** True when `markerFile` records `wanted` and `libDir` still holds the jars it counted. */
export function installIsCurrent(markerFile: string, libDir: string, wanted: Omit<MavenInstallMarker, 'jarCount'>): MavenInstallMarker | undefined {
  const marker = readMarker(markerFile);
  if (marker === undefined || marker.version !== wanted.version || marker.pomSha256 !== wanted.pomSha256 || countJars(libDir) !== marker.jarCount) return undefined;
  return marker;
}

export function writeMarker(markerFile: string, marker: MavenInstallMarker): void {
  fs.writeFileSync(markerFile, `${JSON.stringify(marker, null, 2)}\n`);
}

export function countJars(dir: string): number {
  try {
    return fs.readdirSync(dir).filter((name) => name.endsWith('.jar')).length;
  } catch {
    return -1;
  }
}

function readMarker(markerFile: string): MavenInstallMarker | undefined {
  try {
    const parsed: unknown = JSON.parse(fs.readFileSync(markerFile, 'utf8'));
    if (typeof parsed !== 'object' || parsed === null) return undefined;
    const { version, pomSha256, jarCount } = parsed as Record<string, unknown>;
    if (typeof version !== 'string' || typeof pomSha256 !== 'string' || typeof jarCount !== 'number') return undefined;
    return { version, pomSha256, jarCount };
  } catch {
    return undefined;
  }
}
