// Entry point of agent.wasm, the Weir agent: a singleton Proxy-Wasm service (Envoy bootstrap
// extension envoy.bootstrap.wasm, vm_id `weir`, root_id `agent`) that subscribes to Weir's policy
// resources over ADS and publishes them in shared data for the parser VMs (docs/agent.md), and ships
// the parsers' access logs to the server. These are its raw Proxy-Wasm 0.2.1 exports; the work is in
// ads-client.ts and accesslog-shipper.ts.
import './abort';
import { BufferType, LogLevel } from '../sdk/abi/imports';
import { allocateForHost, appendHostBuffer, logText, propertyBytes, propertyString, setTickPeriod } from '../sdk/abi/host';
import { ByteBuffer } from '../sdk/bytes/byte-buffer';
import { AccessLogShipper } from './accesslog-shipper';
import { AdsClient } from './ads-client';
import { readAgentConfig } from './agent-config';
import { AgentNode, nodeMetadataOf } from './discovery';

const TICK_PERIOD_MS: u32 = 100;

let client: AdsClient | null = null;
let shipper: AccessLogShipper | null = null;

export function proxy_abi_version_0_2_1(): void {}

export function proxy_on_memory_allocate(size: usize): usize {
  return allocateForHost(size);
}

export function proxy_on_context_create(contextId: u32, parentContextId: u32): void {}

export function proxy_on_vm_start(rootContextId: u32, vmConfigurationSize: u32): bool {
  return true;
}

export function proxy_on_configure(rootContextId: u32, configurationSize: u32): bool {
  const raw = new ByteBuffer();
  if (!appendHostBuffer(BufferType.PluginConfiguration, configurationSize, raw)) {
    logText(LogLevel.Error, 'weir agent: could not read the plugin configuration from Envoy');
    return false;
  }
  const problem = new Array<string>();
  const config = readAgentConfig(raw.readPtr, <i32>raw.length, problem);
  raw.release();
  if (config === null) {
    logText(LogLevel.Error, 'weir agent: plugin configuration rejected: ' + problem[0] + '; expected JSON such as {"xdsCluster":"weir-xds"}');
    return false;
  }
  const nodeId = config.nodeId.length > 0 ? config.nodeId : envoyNodeId();
  if (nodeId.length == 0) {
    logText(LogLevel.Error, 'weir agent: Envoy has no node id (xds.node.id) and the configuration names none; set node.id in the bootstrap or "nodeId" in the agent configuration');
    return false;
  }
  const previous = client;
  if (previous !== null) previous.stop();
  const node = new AgentNode(nodeId, propertyString('xds.node.cluster', propertyString('node.cluster', '')));
  if (config.forwardNodeMetadata) {
    const envoyNode = propertyBytes('xds.node');
    node.metadata = envoyNode === null ? null : nodeMetadataOf(envoyNode);
    if (node.metadata === null) {
      logText(LogLevel.Error, "weir agent: forwardNodeMetadata is set but Envoy's node (property xds.node) has no readable metadata");
      return false;
    }
  }
  client = new AdsClient(node, config.xdsCluster);
  const previousShipper = shipper;
  if (previousShipper !== null) previousShipper.stop();
  const nextShipper = new AccessLogShipper(nodeId, config.xdsCluster);
  shipper = nextShipper.start() ? nextShipper : null;
  setTickPeriod(TICK_PERIOD_MS);
  logText(LogLevel.Info, 'weir agent: configured, node ' + nodeId + ', xDS cluster ' + config.xdsCluster);
  return true;
}

export function proxy_on_tick(rootContextId: u32): void {
  const current = client;
  if (current !== null) current.onTick();
  const logs = shipper;
  if (logs !== null) logs.onTick();
}

export function proxy_on_queue_ready(rootContextId: u32, token: u32): void {
  const logs = shipper;
  if (logs !== null) logs.onQueueReady(token);
}

export function proxy_on_grpc_receive_initial_metadata(contextId: u32, token: u32, elements: u32): void {}

export function proxy_on_grpc_receive(contextId: u32, token: u32, messageSize: u32): void {
  const current = client;
  const logs = shipper;
  if (logs !== null && logs.onMessage(token, messageSize)) return;
  if (current !== null) current.onMessage(token, messageSize);
}

export function proxy_on_grpc_receive_trailing_metadata(contextId: u32, token: u32, elements: u32): void {}

export function proxy_on_grpc_close(contextId: u32, token: u32, statusCode: u32): void {
  const current = client;
  const logs = shipper;
  if (logs !== null && logs.onClose(token, statusCode)) return;
  if (current !== null) current.onClose(token, statusCode);
}

export function proxy_on_done(contextId: u32): bool {
  const current = client;
  if (current !== null) current.stop();
  const logs = shipper;
  if (logs !== null) logs.stop();
  return true;
}

export function proxy_on_delete(contextId: u32): void {}

// Envoy's node id: the agent must use it so the server records its ACKs against this proxy.
function envoyNodeId(): string {
  const id = propertyString('xds.node.id', '');
  return id.length > 0 ? id : propertyString('node.id', '');
}
