// The HTTP filter's plugin configuration: {"parser": "http", "policy": "agent", "endpoint": ..,
// "direction": .., "port": ..} to enforce the policy the Weir agent publishes (as the parsers do,
// docs/policy-wire.md), or {"parser": "http", "rules": [...]} with static rules in the SDK's rule
// shape (tests and benchmarks). One of the two is required: an HTTP filter with neither would
// have nothing to enforce, and Weir never lets traffic through by default.
import { JsonReader } from '../sdk/json-reader';
import { AgentPolicyFields } from '../sdk/policy-config';
import { readRules } from '../sdk/rule-config';
import { PluginSettings } from '../sdk/settings';
import { HttpRuleSchema } from './http-rule-schema';

export const HTTP_PROTOCOL = 'http';

// The settings, or null with the reason in `problem[0]`. Rules register their header keys in
// `schema`.
export function readHttpSettings(base: usize, length: i32, schema: HttpRuleSchema, problem: Array<string>): PluginSettings | null {
  const settings = new PluginSettings();
  const reader = new JsonReader(base, length);
  const agentPolicy = new AgentPolicyFields();
  if (reader.beginObject()) {
    while (true) {
      const key = reader.nextKey();
      if (key === null) break;
      if (key == 'parser') checkFilterName(reader);
      else if (key == 'rules') settings.rules = readRules(reader, schema);
      else if (agentPolicy.accepts(key)) agentPolicy.read(reader, key);
      else reader.skipValue();
    }
  }
  settings.agentPolicy = agentPolicy.binding(reader);
  settings.endpoint = agentPolicy.endpointName;
  settings.direction = agentPolicy.directionName;
  if (!reader.failed && !reader.atEnd()) reader.fail('unexpected bytes after the configuration object');
  if (!reader.failed && settings.agentPolicy === null && settings.rules === null) {
    reader.problem = 'needs "policy": "agent" (with "endpoint" and "port") or static "rules"; an HTTP filter without either would have nothing to enforce';
  }
  if (reader.failed) {
    problem.push(reader.problem);
    return null;
  }
  return settings;
}

function checkFilterName(reader: JsonReader): void {
  const name = reader.readString();
  if (!reader.failed && name != HTTP_PROTOCOL) reader.problem = 'parser is "' + name + '" but this module is the HTTP filter; point the filter at http.wasm or set "parser": "http"';
}
