// A process of the Kubernetes benchmark: hosts one or more simulated nodes, each a real `weir serve`
// (in process, policies from the kube-apiserver, its own node name and xDS port, mTLS as by
// default) and its simulated proxies, each enrolled with its node's weir serve: ADS streams that subscribe to weir.NetworkPolicy and weir.IdentityMap
// (wildcard) as the Weir agent does and ACK every response. Reports to the orchestrator on stdout,
// one JSON line each: `ready` once every proxy synced, then its CPU when asked (stdin `cpu`).
// The time each node's proxies ACKed a policy generation is read by the orchestrator from the
// policy object's status (status.nodes.<node>), which each weir serve writes after the ACKs.
import * as grpc from '@grpc/grpc-js';
import pino from 'pino';
import type { MethodDefinition, ServiceDefinition } from '@grpc/grpc-js';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { parseArgs } from 'node:util';
import { runServe, type RunningServe } from '../../server/cli/serve-command.ts';
import { generateNodeKey } from '../../server/pki/node-credentials.ts';
import { createLogger } from '../../server/log/logger.ts';
import type { DiscoveryRequest, DiscoveryResponse } from '../../server/xds/discovery-messages.ts';
import { xdsServicePackage } from '../../server/xds/envoy-protos.ts';
import { xdsClientCredentials } from '../../server/xds/node-certificate-client.ts';
import { IDENTITY_MAP_TYPE_URL } from '../../server/xds/resources/identity-map.ts';
import { NETWORK_POLICY_TYPE_URL } from '../../server/xds/resources/network-policy.ts';

const { values } = parseArgs({ options: { nodes: { type: 'string' }, proxies: { type: 'string', default: '1' }, kubeconfig: { type: 'string' } } });
const nodeNames = (values.nodes ?? '').split(',').filter((name) => name !== '');
const proxiesPerNode = Number(values.proxies);
const kubeconfig = values.kubeconfig ?? '';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'weir-bench-kube-'));
const serves: RunningServe[] = [];
const calls: Array<grpc.ClientDuplexStream<DiscoveryRequest, DiscoveryResponse>> = [];
const report = (message: object): void => void process.stdout.write(`${JSON.stringify(message)}\n`);

const adsMethod = (): MethodDefinition<DiscoveryRequest, DiscoveryResponse> => {
  const service = xdsServicePackage()['envoy.service.discovery.v3.AggregatedDiscoveryService'] as ServiceDefinition;
  return service['StreamAggregatedResources'] as MethodDefinition<DiscoveryRequest, DiscoveryResponse>;
};

/** One simulated proxy: ACKs every response; resolves once both policy types were ACKed once. */
function simulateProxy(nodeId: string, serve: RunningServe): Promise<void> {
  const method = adsMethod();
  const key = generateNodeKey();
  const grant = serve.authority.enrol(nodeId, key.publicKeyPem);
  const credentials = xdsClientCredentials({ caPem: grant.caPem, trustDomain: grant.trustDomain, privateKeyPem: key.privateKeyPem, certificatePem: grant.certificatePem });
  const client = new grpc.Client(`127.0.0.1:${serve.controlServer.port}`, credentials);
  const call = client.makeBidiStreamRequest(method.path, method.requestSerialize, method.responseDeserialize);
  calls.push(call);
  const synced = new Set<string>();
  return new Promise((resolve, reject) => {
    call.on('data', (response: DiscoveryResponse) => {
      call.write({ node: null, error_detail: null, type_url: response.type_url, version_info: response.version_info, response_nonce: response.nonce, resource_names: [] });
      synced.add(response.type_url);
      if (synced.size === 2) resolve();
    });
    call.on('error', (error) => reject(error));
    for (const typeUrl of [NETWORK_POLICY_TYPE_URL, IDENTITY_MAP_TYPE_URL]) {
      call.write({ node: { id: nodeId, cluster: 'bench' } as DiscoveryRequest['node'], error_detail: null, type_url: typeUrl, resource_names: [], version_info: '', response_nonce: '' });
    }
  });
}

for (const node of nodeNames) {
  const configFile = path.join(dir, `${node}.yaml`);
  fs.writeFileSync(configFile, [
    `node: ${node}`,
    'xds: { address: 127.0.0.1, port: 0, batchWindowMs: 10 }',
    `policies: { source: kubernetes, kubernetes: { kubeconfig: ${JSON.stringify(kubeconfig)} } }`,
    `api: { socket: ${node}.sock }`,
    'redirects: []',
  ].join('\n'));
  const serve = await runServe({ configFile, logger: createLogger({ level: 'warn', destination: pino.destination(2) }) });
  serves.push(serve);
  await Promise.all(Array.from({ length: proxiesPerNode }, (_, index) => simulateProxy(`${node}-proxy-${index}`, serve)));
}
report({ kind: 'ready', nodes: nodeNames.length, proxies: nodeNames.length * proxiesPerNode });

const input = readline.createInterface({ input: process.stdin });
for await (const line of input) {
  if (line === 'cpu') {
    const usage = process.cpuUsage();
    report({ kind: 'cpu', userMs: usage.user / 1000, systemMs: usage.system / 1000 });
  } else if (line === 'stop') break;
}
for (const call of calls) call.cancel();
for (const serve of serves) await serve.stop();
fs.rmSync(dir, { recursive: true, force: true });
process.exit(0);
