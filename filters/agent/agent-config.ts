// The agent's plugin configuration (JSON in the WasmService's PluginConfig): {"xdsCluster":
// "weir-xds", "nodeId": "<id>"}. Both optional: the cluster defaults to the bootstrap's weir-xds,
// the node id to Envoy's own (xds.node.id), which the agent must share so the server records its
// ACKs against this proxy.
import { JsonReader } from '../sdk/bytes/json-reader';

export const DEFAULT_XDS_CLUSTER = 'weir-xds';

export class AgentConfig {
  xdsCluster: string = DEFAULT_XDS_CLUSTER;
  nodeId: string = '';
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
