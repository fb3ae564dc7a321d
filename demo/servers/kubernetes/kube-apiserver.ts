// One kube-apiserver on loopback over a given etcd, with what a test cluster without nodes needs:
// a free secure port, a self-signed serving certificate (--cert-dir), service-account keys made
// with node:crypto, static bearer tokens (--token-auth-file: an admin in system:masters plus any
// users a test asks for, so RBAC manifests are tested with their real rights), RBAC authorization,
// and kubeconfig files for each user. Readiness is /readyz. Without a controller-manager nothing
// creates a namespace's `default` ServiceAccount or finishes a namespace's deletion; callers create
// the former and never wait on the latter.
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { stringify } from 'yaml';
import { freeLoopbackPort } from '../loopback-port.ts';
import { spawnServer, type ServerProcess } from '../server-process.ts';
import { requireKubeBinary } from './install.ts';

export interface KubeUser {
  name: string;
  groups?: readonly string[];
}

export interface StartKubeApiserverOptions {
  /** --etcd-servers. */
  etcdUrl: string;
  /** Users besides `admin` (system:masters) that get a token and a kubeconfig. */
  users?: readonly KubeUser[];
  readyTimeoutMs?: number;
}

export interface RunningKubeApiserver {
  /** `https://127.0.0.1:<port>`. */
  readonly url: string;
  /** The serving certificate's CA bundle (PEM). */
  readonly caFile: string;
  /** A kubeconfig file per user; `admin` is always there. */
  kubeconfig(user: string): string;
  /** The bearer token of a user. */
  token(user: string): string;
  pid(): number;
  stop(): Promise<void>;
  /** Starts it again with the same port, keys and tokens, and waits until /readyz answers. */
  restart(): Promise<void>;
  /** Stops it and removes its files. */
  destroy(): Promise<void>;
}

const HOST = '127.0.0.1';

export async function startKubeApiserver(options: StartKubeApiserverOptions): Promise<RunningKubeApiserver> {
  const binary = requireKubeBinary('kube-apiserver');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'weir-kube-apiserver-'));
  const port = await freeLoopbackPort();
  const url = `https://${HOST}:${port}`;
  const users: KubeUser[] = [{ name: 'admin', groups: ['system:masters'] }, ...(options.users ?? [])];
  const tokens = new Map(users.map((user) => [user.name, randomBytes(24).toString('hex')]));
  fs.writeFileSync(
    path.join(dir, 'tokens.csv'),
    users.map((user) => `${tokens.get(user.name)},${user.name},${user.name},"${(user.groups ?? []).join(',')}"`).join('\n') + '\n',
    { mode: 0o600 },
  );
  const keys = generateKeyPairSync('rsa', { modulusLength: 2048 });
  fs.writeFileSync(path.join(dir, 'sa.key'), keys.privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
  fs.writeFileSync(path.join(dir, 'sa.pub'), keys.publicKey.export({ type: 'spki', format: 'pem' }));
  const certDir = path.join(dir, 'certs');
  const args = [
    `--etcd-servers=${options.etcdUrl}`,
    `--bind-address=${HOST}`,
    `--advertise-address=${HOST}`,
    `--secure-port=${port}`,
    `--cert-dir=${certDir}`,
    // The default reconciler refuses a loopback advertise address; nothing here needs the kubernetes Service's endpoints.
    '--endpoint-reconciler-type=none',
    '--service-cluster-ip-range=10.96.0.0/16',
    `--service-account-key-file=${path.join(dir, 'sa.pub')}`,
    `--service-account-signing-key-file=${path.join(dir, 'sa.key')}`,
    '--service-account-issuer=https://kubernetes.default.svc',
    `--token-auth-file=${path.join(dir, 'tokens.csv')}`,
    '--authorization-mode=RBAC',
    '--enable-priority-and-fairness=false',
    '--v=0',
  ];
  const timeoutMs = options.readyTimeoutMs ?? 180_000;
  const caFile = path.join(certDir, 'apiserver.crt');
  const adminToken = tokens.get('admin') ?? '';
  let current: ServerProcess = spawnServer({ command: binary, args, outputFile: path.join(dir, 'kube-apiserver.log') });
  const launch = (): Promise<void> => waitUntilReady(current, url, adminToken, timeoutMs);
  try {
    await launch();
  } catch (error) {
    await current.stop(5_000);
    throw error;
  }
  const kubeconfigs = new Map<string, string>();
  for (const user of users) {
    const file = path.join(dir, `${user.name}.kubeconfig`);
    fs.writeFileSync(file, kubeconfigText({ url, caPem: fs.readFileSync(caFile, 'utf8'), user: user.name, token: tokens.get(user.name) ?? '' }), { mode: 0o600 });
    kubeconfigs.set(user.name, file);
  }
  const stop = (): Promise<void> => current.stop(10_000);
  return {
    url,
    caFile,
    kubeconfig: (user) => {
      const file = kubeconfigs.get(user);
      if (file === undefined) throw new Error(`no kubeconfig for user "${user}"; pass it in startKubeApiserver({ users })`);
      return file;
    },
    token: (user) => {
      const token = tokens.get(user);
      if (token === undefined) throw new Error(`no token for user "${user}"`);
      return token;
    },
    pid: () => current.pid,
    stop,
    restart: async () => {
      await stop();
      current = spawnServer({ command: binary, args, outputFile: path.join(dir, 'kube-apiserver.log') });
      await launch();
    },
    destroy: async () => {
      await stop();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A kubeconfig with one cluster, one user (bearer token) and one context, current. */
export function kubeconfigText(options: { url: string; caPem: string; user: string; token: string }): string {
  return stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'weir-test', cluster: { server: options.url, 'certificate-authority-data': Buffer.from(options.caPem).toString('base64') } }],
    users: [{ name: options.user, user: { token: options.token } }],
    contexts: [{ name: options.user, context: { cluster: 'weir-test', user: options.user } }],
    'current-context': options.user,
  });
}

async function waitUntilReady(apiserver: ServerProcess, url: string, token: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  for (let delayMs = 50; ; delayMs = Math.min(delayMs * 2, 1_000)) {
    const exit = apiserver.exitStatus();
    if (exit !== undefined) {
      throw new Error(`kube-apiserver (pid ${apiserver.pid}) exited during start-up with ${exit.code === null ? `signal ${exit.signal}` : `status ${exit.code}`}. Output:\n${apiserver.outputTail() || '(none)'}`);
    }
    last = await readyz(url, token);
    if (last === 'ok') return;
    if (Date.now() > deadline) {
      throw new Error(`kube-apiserver (pid ${apiserver.pid}) was not ready at ${url}/readyz within ${timeoutMs / 1000} s (last answer: ${last}). Output:\n${apiserver.outputTail() || '(none)'}`);
    }
    await new Promise((resolve) => setTimeout(resolve, delayMs));
  }
}

/** `ok` when /readyz answers 200, else what it said. The certificate is not checked: it is being generated. */
function readyz(url: string, token: string): Promise<string> {
  return new Promise((resolve) => {
    const request = https.get(`${url}/readyz`, { headers: { authorization: `Bearer ${token}` }, rejectUnauthorized: false, timeout: 5_000 }, (response) => {
      let body = '';
      response.on('data', (chunk: Buffer) => (body += chunk.toString('utf8')));
      response.on('end', () => resolve(response.statusCode === 200 ? 'ok' : `${response.statusCode}: ${body.slice(0, 200)}`));
    });
    request.on('timeout', () => request.destroy(new Error('timed out')));
    request.on('error', (error) => resolve(error.message));
  });
}
