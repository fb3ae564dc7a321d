// Whether each redirect's upstream accepts TCP connections: probed when `weir serve` starts and
// then every few seconds, so that `weir status` can say "the server behind redirect X refuses
// connections" instead of letting clients see a silent close. Logs each change once.
import net from 'node:net';
import type { Logger } from 'pino';

export interface UpstreamTarget {
  /** The redirect's name. */
  readonly redirect: string;
  readonly address: string;
  readonly port: number;
  /** Where clients connect, for the message. */
  readonly listener: string;
}

export interface UpstreamHealth extends UpstreamTarget {
  /** Undefined until the first probe finished. */
  readonly reachable: boolean | undefined;
  /** Why the last probe failed (ECONNREFUSED, a timeout, ...). */
  readonly error?: string;
  /** When the state last changed (ms since the epoch). */
  readonly since: number;
}

export interface UpstreamProbeOptions {
  targets: () => readonly UpstreamTarget[];
  logger: Logger;
  /** Default 5000. */
  intervalMs?: number;
  /** Per connection attempt. Default 2000. */
  timeoutMs?: number;
}

export class UpstreamProbe {
  readonly #states = new Map<string, UpstreamHealth>();
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;

  constructor(private readonly options: UpstreamProbeOptions) {}

  /** Probes now, then every interval until stop(). */
  start(): void {
    void this.probeAll();
    this.#timer = setInterval(() => void this.probeAll(), this.options.intervalMs ?? 5_000);
    this.#timer.unref();
  }

  stop(): void {
    clearInterval(this.#timer);
  }

  /** The last result for each current target. */
  states(): UpstreamHealth[] {
    return this.options.targets().map((target) => this.#states.get(keyOf(target)) ?? { ...target, reachable: undefined, since: Date.now() });
  }

  /** One round over every target (one round at a time). */
  probeAll(): Promise<void> {
    this.#running ??= Promise.all(this.options.targets().map((target) => this.#probe(target))).then(() => {
      this.#running = undefined;
    });
    return this.#running;
  }

  async #probe(target: UpstreamTarget): Promise<void> {
    const error = await connectError(target.address, target.port, this.options.timeoutMs ?? 2_000);
    const previous = this.#states.get(keyOf(target));
    const reachable = error === undefined;
    if (previous?.reachable === reachable) return;
    this.#states.set(keyOf(target), { ...target, reachable, ...(error !== undefined ? { error } : {}), since: Date.now() });
    const fields = { redirect: target.redirect, upstream: `${target.address}:${target.port}`, listener: target.listener };
    if (!reachable) {
      this.options.logger.warn(
        { ...fields, error },
        'the upstream of a redirect refuses connections: clients of its listener see their connection closed; start that server or fix redirects[].upstream in weir.yaml',
      );
    } else if (previous !== undefined) {
      this.options.logger.info(fields, 'the upstream of a redirect accepts connections again');
    }
  }
}

function keyOf(target: UpstreamTarget): string {
  return `${target.redirect} ${target.address}:${target.port}`;
}

/** Undefined when a TCP connection opens; otherwise why not. */
function connectError(host: string, port: number, timeoutMs: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    const done = (error: string | undefined): void => {
      socket.destroy();
      resolve(error);
    };
    socket.setTimeout(timeoutMs, () => done(`no answer within ${timeoutMs} ms`));
    socket.once('connect', () => done(undefined));
    socket.once('error', (error: NodeJS.ErrnoException) => done(error.code ?? error.message));
  });
}
