// The settings one plugin configuration (one Envoy root context) gives every connection it
// opens: buffer cap and rules, or the agent policy binding. Read from JSON in plugin-config.ts.
import { RuleSet } from './rules';
import { AgentPolicyBinding } from './policy-config';

export const DEFAULT_MAX_BUFFER_BYTES: u32 = 1048576;

export class PluginSettings {
  // Unparsed bytes a direction may hold; a frame that needs more is an ERROR.
  maxBufferBytes: u32 = DEFAULT_MAX_BUFFER_BYTES;
  // null when the configuration has no "rules": the parser then applies its documented default.
  rules: RuleSet | null = null;
  // Set by "policy": "agent": decide with the policy the Weir agent publishes; `rules` is ignored.
  agentPolicy: AgentPolicyBinding | null = null;
}
