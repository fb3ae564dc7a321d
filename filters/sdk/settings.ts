// The settings one plugin configuration (one Envoy root context) gives every connection it
// opens: buffer cap and rules. Read from JSON in plugin-config.ts.
import { RuleSet } from './rules';

export const DEFAULT_MAX_BUFFER_BYTES: u32 = 1048576;

export class PluginSettings {
  // Unparsed bytes a direction may hold; a frame that needs more is an ERROR.
  maxBufferBytes: u32 = DEFAULT_MAX_BUFFER_BYTES;
  // null when the configuration has no "rules": the parser then applies its documented default.
  rules: RuleSet | null = null;
}
