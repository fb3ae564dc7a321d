// memcached from Debian: installMemcached() apt-installs memcached and libmemcached-tools when they
// are missing, and startMemcached() runs one memcached on 127.0.0.1 (TCP only, a free port, a
// small cache), waits until it answers `version`, and stops it by pid.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import { freeLoopbackPort } from './loopback-port.ts';
import { installDebianPackages } from './debian-packages.ts';
import { sayOnConsole, type SetupReporter } from './setup-report.ts';
import { spawnServer } from './server-process.ts';

export const MEMCACHED_BINARY = '/usr/bin/memcached';
/** One of libmemcached-tools' programs; its presence stands for the package. */
export const MEMCACHED_TOOLS_PROBE = '/usr/bin/memcslap';

export interface InstallMemcachedOptions {
  say?: SetupReporter;
}

/** Installs the Debian packages memcached and libmemcached-tools unless both are present. */
export function installMemcached(options: InstallMemcachedOptions = {}): void {
  const say = options.say ?? sayOnConsole;
  const installed = installDebianPackages({ what: 'memcached', packages: ['memcached', 'libmemcached-tools'], probes: [MEMCACHED_BINARY, MEMCACHED_TOOLS_PROBE], say });
  say(
    installed
      ? `memcached: installed (${memcachedVersion() ?? MEMCACHED_BINARY}); the package's own service is not used, tests start their own`
      : `memcached: already installed (${memcachedVersion() ?? MEMCACHED_BINARY})`,
  );
}

export interface StartMemcachedOptions {
  /** TCP port on 127.0.0.1; default a free one. */
  port?: number;
  /** Cache size in MiB; default 64. */
  memoryMb?: number;
  threads?: number;
  readyTimeoutMs?: number;
}

export interface RunningMemcached {
  pid: number;
  host: string;
  port: number;
  /** SIGTERM, then SIGKILL after 5 s. */
  stop(): Promise<void>;
}

const LOOPBACK_HOST = '127.0.0.1';

export async function startMemcached(options: StartMemcachedOptions = {}): Promise<RunningMemcached> {
  if (!fs.existsSync(MEMCACHED_BINARY)) throw new Error(`startMemcached: ${MEMCACHED_BINARY} is missing; run installMemcached() (npm run setup) first`);
  const port = options.port ?? (await freeLoopbackPort());
  const args = ['-l', LOOPBACK_HOST, '-p', String(port), '-U', '0', '-m', String(options.memoryMb ?? 64), '-t', String(options.threads ?? 2), '-c', '1024'];
  // memcached refuses to run as root unless told which user to run as.
  if (process.getuid?.() === 0) args.push('-u', 'root');
  const memcached = spawnServer({ command: MEMCACHED_BINARY, args });
  const stop = (): Promise<void> => memcached.stop(5_000);
  const deadline = Date.now() + (options.readyTimeoutMs ?? 10_000);
  for (;;) {
    const exit = memcached.exitStatus();
    if (exit !== undefined) {
      throw new Error(`memcached (pid ${memcached.pid}) exited during start-up with ${exit.code === null ? `signal ${exit.signal}` : `status ${exit.code}`} (port ${port} taken?). Output:\n${memcached.outputTail() || '(none)'}`);
    }
    if (await answersVersion(port)) return { pid: memcached.pid, host: LOOPBACK_HOST, port, stop };
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`memcached (pid ${memcached.pid}) did not answer "version" on ${LOOPBACK_HOST}:${port} in time. Output:\n${memcached.outputTail() || '(none)'}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

function memcachedVersion(): string | undefined {
  const result = spawnSync(MEMCACHED_BINARY, ['-V'], { encoding: 'utf8' });
  return result.status === 0 ? result.stdout.trim() : undefined;
}

/** True when a text-protocol `version` on a fresh connection gets a `VERSION ...` line back. */
function answersVersion(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: LOOPBACK_HOST, port });
    let reply = '';
    const finish = (answered: boolean): void => {
      socket.destroy();
      resolve(answered);
    };
    socket.setTimeout(1_000, () => finish(false));
    socket.once('error', () => finish(false));
    socket.once('connect', () => socket.write('version\r\n'));
    socket.on('data', (chunk: Buffer) => {
      reply += chunk.toString('latin1');
      if (reply.includes('\r\n')) finish(reply.startsWith('VERSION '));
    });
  });
}
