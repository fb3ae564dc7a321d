// The settings one plugin configuration (one Envoy root context) gives every connection it
// opens: buffer cap and rules, or the agent policy binding. Read from JSON in plugin-config.ts.
import { RuleSet } from '../policy/rules';
import { AgentPolicyBinding } from '../policy/policy-config';

export const DEFAULT_MAX_BUFFER_BYTES: u32 = 1048576;

export class PluginSettings {
  // Unparsed bytes a direction may hold; a frame that needs more is an ERROR.
  maxBufferBytes: u32 = DEFAULT_MAX_BUFFER_BYTES;
  // null when the configuration has no "rules": the parser then applies its documented default.
  rules: RuleSet | null = null;
  // Set by "policy": "agent": decide with the policy the Weir agent publishes; `rules` is ignored.
  agentPolicy: AgentPolicyBinding | null = null;
  // "endpoint" and "direction" as configured ('' when absent), for access-log entries of plugins
  // with static rules; with the agent policy the binding holds them.
  endpoint: string = '';
  direction: string = '';
  private ruleNames: Array<string> = new Array<string>();

  // "rules[n]": how access-log entries name static rule n; built once per index.
  ruleName(index: i32): string {
    while (this.ruleNames.length <= index) this.ruleNames.push('rules[' + this.ruleNames.length.toString() + ']');
    return this.ruleNames[index];
  }
}
