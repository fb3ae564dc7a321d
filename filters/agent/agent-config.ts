// The agent's plugin configuration (JSON in the WasmService's PluginConfig): {"xdsCluster":
// "weir-xds", "nodeId": "<id>", "forwardNodeMetadata": false}. All optional: the cluster defaults
// to the bootstrap's weir-xds, the node id to Envoy's own (xds.node.id), which the agent must share
// so the server records its ACKs against this proxy. Inside Istio's sidecars Envoy's node belongs
// to istiod: there the agent has a node id of its own (its certificate's) and forwards Envoy's node
// metadata (Istio's NAMESPACE, LABELS, INSTANCE_IPS, ...) so the server learns the workload
// (docs/istio.md).
import { JsonReader } from '../sdk/bytes/json-reader';

export const DEFAULT_XDS_CLUSTER = 'weir-xds';

export class AgentConfig {
  xdsCluster: string = DEFAULT_XDS_CLUSTER;
  nodeId: string = '';
  forwardNodeMetadata: bool = false;
}

// The configuration, or null with the reason in problem[0].
export function readAgentConfig(base: usize, length: i32, problem: Array<string>): AgentConfig | null {
  const config = new AgentConfig();
  const reader = new JsonReader(base, length);
  if (reader.atEnd()) return config;
  if (reader.beginObject()) {
    while (true) {
      const key = reader.nextKey();
      if (key === null) break;
      if (key == 'xdsCluster') config.xdsCluster = reader.readString();
      else if (key == 'nodeId') config.nodeId = reader.readString();
      else if (key == 'forwardNodeMetadata') config.forwardNodeMetadata = reader.readBool();
      else reader.skipValue();
    }
  }
  if (!reader.failed && !reader.atEnd()) reader.fail('unexpected bytes after the configuration object');
  if (!reader.failed && config.xdsCluster.length == 0) reader.problem = 'xdsCluster is empty';
  if (reader.failed) {
    problem.push(reader.problem);
    return null;
  }
  return config;
}
