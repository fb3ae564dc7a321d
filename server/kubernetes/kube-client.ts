// The few Kubernetes API calls Weir makes, over node:https with the credentials of a kubeconfig
// (loaded by @kubernetes/client-node: a file, $KUBECONFIG, or the pod's service account): GET,
// POST, merge PATCH, and list-then-watch of a collection that keeps an in-memory copy current
// (relisting after every watch end, so a 410 Gone or an API server restart loses nothing).
// Errors carry the method, the path and the API server's own message.
import https from 'node:https';
import { KubeConfig } from '@kubernetes/client-node';

export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata: { name: string; namespace?: string; resourceVersion?: string; generation?: number; uid?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  [field: string]: unknown;
}

export class KubeApiError extends Error {
  constructor(
    message: string,
    readonly status: number | undefined,
  ) {
    super(message);
    this.name = 'KubeApiError';
  }
}

export interface KubeClientOptions {
  /** A kubeconfig file; default: in-cluster service account, else $KUBECONFIG or ~/.kube/config. */
  kubeconfig?: string;
  /** Per request (not for watches). Default 10 s. */
  requestTimeoutMs?: number;
}

export class KubeClient {
  readonly server: string;
  readonly #config: KubeConfig;
  readonly #timeoutMs: number;

  constructor(options: KubeClientOptions = {}) {
    this.#config = new KubeConfig();
    if (options.kubeconfig !== undefined) this.#config.loadFromFile(options.kubeconfig);
    else this.#config.loadFromDefault();
    const cluster = this.#config.getCurrentCluster();
    if (cluster === null) throw new Error(`no current cluster in the kubeconfig${options.kubeconfig === undefined ? '' : ` ${options.kubeconfig}`}; set current-context`);
    this.server = cluster.server.replace(/\/$/, '');
    this.#timeoutMs = options.requestTimeoutMs ?? 10_000;
  }

  get<T = KubeObject>(path: string): Promise<T> {
    return this.#request<T>('GET', path);
  }

  post<T = KubeObject>(path: string, body: unknown): Promise<T> {
    return this.#request<T>('POST', path, body, 'application/json');
  }

  mergePatch<T = KubeObject>(path: string, body: unknown): Promise<T> {
    return this.#request<T>('PATCH', path, body, 'application/merge-patch+json');
  }

  /** Lists `path` and keeps watching it; see CollectionWatch. */
  watchCollection(path: string, handlers: CollectionHandlers): CollectionWatch {
    return new CollectionWatch(this, path, handlers);
  }

  /** A streaming GET: calls `onLine` for each line until the server ends it; resolves then, rejects on error. */
  async stream(path: string, onLine: (line: string) => void, signal: AbortSignal): Promise<void> {
    const options = await this.#options('GET', path);
    return new Promise((resolve, reject) => {
      const request = https.request({ ...options, signal }, (response) => {
        if (response.statusCode !== 200) {
          let body = '';
          response.on('data', (chunk: Buffer) => (body += chunk.toString('utf8')));
          response.on('end', () => reject(apiError('GET', path, response.statusCode, body)));
          return;
        }
        let pending = '';
        response.on('data', (chunk: Buffer) => {
          pending += chunk.toString('utf8');
          for (let newline = pending.indexOf('\n'); newline >= 0; newline = pending.indexOf('\n')) {
            const line = pending.slice(0, newline);
            pending = pending.slice(newline + 1);
            if (line.trim() === '') continue;
            try {
              onLine(line);
            } catch (error) {
              request.destroy();
              reject(error instanceof Error ? error : new Error(String(error)));
              return;
            }
          }
        });
        response.on('end', () => resolve());
        response.on('error', reject);
        // A killed API server may end the response without 'end' or 'error'.
        response.on('close', () => resolve());
      });
      request.on('error', reject);
      request.end();
    });
  }

  async #options(method: string, path: string, contentType?: string): Promise<https.RequestOptions> {
    const url = new URL(`${this.server}${path}`);
    const options: https.RequestOptions = {
      method,
      hostname: url.hostname,
      port: url.port,
      path: `${url.pathname}${url.search}`,
      headers: { accept: 'application/json', ...(contentType === undefined ? {} : { 'content-type': contentType }) },
    };
    await this.#config.applyToHTTPSOptions(options);
    return options;
  }

  async #request<T>(method: string, path: string, body?: unknown, contentType?: string): Promise<T> {
    const options = await this.#options(method, path, contentType);
    const payload = body === undefined ? undefined : JSON.stringify(body);
    return new Promise((resolve, reject) => {
      const request = https.request({ ...options, timeout: this.#timeoutMs }, (response) => {
        let text = '';
        response.on('data', (chunk: Buffer) => (text += chunk.toString('utf8')));
        response.on('end', () => {
          const status = response.statusCode ?? 0;
          if (status < 200 || status >= 300) return reject(apiError(method, path, status, text));
          try {
            resolve(JSON.parse(text) as T);
          } catch {
            reject(new KubeApiError(`${method} ${path}: the API server answered with something that is not JSON`, status));
          }
        });
      });
      request.on('timeout', () => request.destroy(new Error(`no answer within ${this.#timeoutMs / 1000} s`)));
      request.on('error', (error) => reject(new KubeApiError(`${method} ${this.server}${path}: ${error.message}`, undefined)));
      request.end(payload);
    });
  }
}

function apiError(method: string, path: string, status: number | undefined, body: string): KubeApiError {
  let message = body.slice(0, 500);
  try {
    const parsed = JSON.parse(body) as { message?: string };
    if (typeof parsed.message === 'string') message = parsed.message;
  } catch {
    // not a Status object: keep the text
  }
  return new KubeApiError(`${method} ${path}: ${status ?? 'no status'} ${message}`, status);
}

export interface CollectionHandlers {
  /** The complete collection after a (re)list. */
  replaced(items: readonly KubeObject[]): void;
  upserted(item: KubeObject): void;
  deleted(item: KubeObject): void;
  /** The list or the watch failed; the copy stays as it was and the watch starts again. */
  failed(error: Error): void;
}

/**
 * Keeps a collection current: list, then watch from the list's resourceVersion; when the watch
 * ends (after at most 5 minutes, 410 Gone, API server gone) list again. Waits between failed
 * attempts, up to 5 s.
 */
export class CollectionWatch {
  readonly #abort = new AbortController();
  #synced = false;
  readonly #syncWaiters: Array<() => void> = [];

  constructor(
    private readonly client: KubeClient,
    private readonly path: string,
    private readonly handlers: CollectionHandlers,
  ) {
    void this.#run();
  }

  /** Resolves after the first successful list. */
  synced(): Promise<void> {
    return this.#synced ? Promise.resolve() : new Promise((resolve) => this.#syncWaiters.push(resolve));
  }

  stop(): void {
    this.#abort.abort();
  }

  async #run(): Promise<void> {
    let failures = 0;
    while (!this.#abort.signal.aborted) {
      try {
        const list = await this.client.get<{ metadata: { resourceVersion: string }; items: KubeObject[] }>(this.path);
        this.handlers.replaced(list.items);
        if (!this.#synced) {
          this.#synced = true;
          for (const resolve of this.#syncWaiters.splice(0)) resolve();
        }
        failures = 0;
        const separator = this.path.includes('?') ? '&' : '?';
        await this.client.stream(`${this.path}${separator}watch=true&timeoutSeconds=300&resourceVersion=${list.metadata.resourceVersion}`, (line) => {
          const event = JSON.parse(line) as { type: string; object: KubeObject };
          if (event.type === 'ADDED' || event.type === 'MODIFIED') this.handlers.upserted(event.object);
          else if (event.type === 'DELETED') this.handlers.deleted(event.object);
          else if (event.type === 'ERROR') throw new Error(`watch of ${this.path} ended: ${JSON.stringify(event.object)}`);
        }, this.#abort.signal);
      } catch (error) {
        if (this.#abort.signal.aborted) return;
        failures += 1;
        this.handlers.failed(error instanceof Error ? error : new Error(String(error)));
        await new Promise((resolve) => setTimeout(resolve, Math.min(100 * 2 ** failures, 5_000)));
      }
    }
  }
}
