// Test fixtures for the REST API: a `weir serve` in process on temp paths (unix socket, policy
// directory, a stand-in parser module), a client on its socket, and a scripted Weir agent that
// subscribes to weir.NetworkPolicy and weir.IdentityMap over real gRPC and ACKs or NACKs them.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { silentLogger } from '../../../server/log/logger.ts';
import { callApi, type ApiTarget } from '../../../server/cli/api-client.ts';
import { runServe, type RunningServe } from '../../../server/cli/serve-command.ts';
import type { DiscoveryResponse } from '../../../server/xds/discovery-messages.ts';
import { IDENTITY_MAP_TYPE_URL } from '../../../server/xds/resources/identity-map.ts';
import { NETWORK_POLICY_TYPE_URL } from '../../../server/xds/resources/network-policy.ts';
import { openAds } from '../xds/support/grpc-client.ts';
import { sotwRequest } from '../xds/support/resources.ts';
import { enrolledCredentials } from '../../support/test-pki.ts';

export interface TestServer {
  dir: string;
  serve: RunningServe;
  target: ApiTarget;
  /** Sends one request; returns status and parsed JSON (or text). */
  api(method: 'GET' | 'POST' | 'DELETE', requestPath: string, body?: string): Promise<{ status: number; body: Record<string, unknown> & { error?: string; problems?: string[] }; text: string }>;
  stop(): Promise<void>;
}

export interface TestServerOptions {
  /** The `api:` line of weir.yaml. Default: the unix socket weir.sock only. */
  apiConfig?: string;
  /** Files to write into the server's directory before it starts (e.g. a token file). */
  files?: Record<string, string>;
  /** Files to put into the policy directory before the server starts. */
  policies?: Record<string, string>;
  enforcementMode?: 'default' | 'always' | 'never';
}

export async function startTestServer(options: TestServerOptions = {}): Promise<TestServer> {
  // Short paths: a unix socket path must stay under ~100 bytes.
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'weir-api-'));
  fs.writeFileSync(path.join(dir, 'r2d2.wasm'), Buffer.from([0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00]));
  fs.mkdirSync(path.join(dir, 'policies'));
  for (const [name, text] of Object.entries(options.policies ?? {})) fs.writeFileSync(path.join(dir, 'policies', name), text);
  for (const [name, text] of Object.entries(options.files ?? {})) fs.writeFileSync(path.join(dir, name), text);
  const configFile = path.join(dir, 'weir.yaml');
  fs.writeFileSync(configFile, [
    'xds: { address: 127.0.0.1, port: 0, batchWindowMs: 0 }',
    `policies: { dir: policies, enforcementMode: ${options.enforcementMode ?? 'default'} }`,
    options.apiConfig ?? 'api: { socket: weir.sock }',
    'redirects:',
    '  - { name: r2d2, parser: r2d2, endpoint: droid-server, listen: { address: 127.0.0.1, port: 10000 }, upstream: { address: 127.0.0.1, port: 9000 } }',
    'filters: { dir: . }',
  ].join('\n'));
  const serve = await runServe({ configFile, logger: silentLogger() });
  const target: ApiTarget = { kind: 'socket', socket: serve.api.socket };
  return {
    dir,
    serve,
    target,
    api: async (method, requestPath, body) => {
      const reply = await callApi(target, { method, path: requestPath, ...(body !== undefined ? { body } : {}) });
      let parsed: Record<string, unknown> = {};
      try {
        parsed = JSON.parse(reply.text) as Record<string, unknown>;
      } catch {
        parsed = {};
      }
      return { status: reply.status, body: parsed, text: reply.text };
    },
    stop: async () => {
      await serve.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A stand-in for the Weir agent: one SotW ADS stream per policy type, same node id as its Envoy. */
export interface ScriptedAgent {
  /** The next response of a type (resources decoded by the caller if needed). */
  next(typeUrl: string, timeoutMs?: number): Promise<DiscoveryResponse>;
  ack(typeUrl: string, response: DiscoveryResponse): void;
  nack(typeUrl: string, response: DiscoveryResponse, message: string): void;
  close(): void;
}

/** Enrols `nodeId` with the server (mTLS) and opens its agent's streams. */
export function openScriptedAgent(serve: RunningServe, nodeId: string): ScriptedAgent {
  const credentials = enrolledCredentials(serve, nodeId);
  const target = `127.0.0.1:${serve.controlServer.port}`;
  const streams = new Map<string, ReturnType<typeof openAds>>([NETWORK_POLICY_TYPE_URL, IDENTITY_MAP_TYPE_URL].map((typeUrl) => [typeUrl, openAds(target, credentials)]));
  for (const [typeUrl, stream] of streams) stream.write(sotwRequest({ node: { id: nodeId, cluster: 'test' }, type_url: typeUrl }));
  const streamOf = (typeUrl: string) => {
    const stream = streams.get(typeUrl);
    if (!stream) throw new Error(`the scripted agent has no stream for ${typeUrl}`);
    return stream;
  };
  return {
    next: (typeUrl, timeoutMs) => streamOf(typeUrl).nextResponse(timeoutMs),
    ack: (typeUrl, response) => streamOf(typeUrl).write(sotwRequest({ type_url: typeUrl, version_info: response.version_info, response_nonce: response.nonce })),
    nack: (typeUrl, response, message) =>
      streamOf(typeUrl).write(sotwRequest({ type_url: typeUrl, version_info: '', response_nonce: response.nonce, error_detail: { code: 3, message } })),
    close: () => {
      for (const stream of streams.values()) stream.close();
    },
  };
}
