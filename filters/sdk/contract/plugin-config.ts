// Reads the plugin configuration Envoy hands to proxy_on_configure (the control server's
// `PluginConfig.configuration`, a StringValue holding JSON): {"parser": "<name>",
// "maxBufferBytes": <1..268435456>, "rules": [...]}, or instead of rules the agent policy fields
// of policy-config.ts ("policy": "agent", "endpoint", "direction", "port"). Unknown fields are
// ignored; anything invalid is reported so that proxy_on_configure can refuse the configuration
// (Envoy then NACKs it).
import { JsonReader } from '../bytes/json-reader';
import { ParserFactory } from './parser';
import { readRules } from '../policy/rule-config';
import { PluginSettings } from './settings';
import { AgentPolicyFields } from '../policy/policy-config';

const MAX_BUFFER_BYTES_LIMIT: f64 = 268435456;

// The settings, or null with the reason in `problem[0]`.
export function readPluginSettings(base: usize, length: i32, factory: ParserFactory, problem: Array<string>): PluginSettings | null {
  const settings = new PluginSettings();
  const reader = new JsonReader(base, length);
  if (reader.atEnd()) return settings; // no configuration: defaults
  const agentPolicy = new AgentPolicyFields();
  if (reader.beginObject()) {
    while (true) {
      const key = reader.nextKey();
      if (key === null) break;
      if (key == 'parser') checkParserName(reader, factory.protocol);
      else if (key == 'maxBufferBytes') settings.maxBufferBytes = <u32>reader.readInteger('maxBufferBytes', 1, MAX_BUFFER_BYTES_LIMIT, 0);
      else if (key == 'rules') settings.rules = readRules(reader, factory.ruleSchema());
      else if (agentPolicy.accepts(key)) agentPolicy.read(reader, key);
      else reader.skipValue();
    }
  }
  settings.agentPolicy = agentPolicy.binding(reader);
  settings.endpoint = agentPolicy.endpointName;
  settings.direction = agentPolicy.directionName;
  if (!reader.failed && !reader.atEnd()) reader.fail('unexpected bytes after the configuration object');
  if (reader.failed) {
    problem.push(reader.problem);
    return null;
  }
  return settings;
}

function checkParserName(reader: JsonReader, protocol: string): void {
  const name = reader.readString();
  if (!reader.failed && name != protocol) reader.problem = 'parser is "' + name + '" but this module is the "' + protocol + '" parser; point the filter at ' + protocol + '.wasm or fix "parser"';
}
