// What the HTTP filter keeps per downstream connection, shared by every request (HTTP/1.1
// keep-alive) or stream (HTTP/2) on it: the policy view (remote identity and the connection-level
// verdict, re-read when the agent publishes, so a policy change reaches the next request on an
// open connection), and the members every access-log entry of the connection repeats. Envoy gives
// an HTTP filter no connection-close callback, so connections are found by Envoy's connection id
// and forgotten in bulk when too many are kept (connectionFor). A forgotten connection that a
// stream still holds stays usable: release() only empties buffers, which are encoded again.
import { EntryType, LogFields } from '../sdk/access-log/access-log';
import { ConnectionEntries, EntryBasis } from '../sdk/contract/connection-entries';
import { ConnectionPolicy } from '../sdk/policy/policy-decision';
import { RequestRecord } from '../sdk/policy/rules';
import { PluginSettings } from '../sdk/contract/settings';
import { HttpRuleSchema } from './http-rule-schema';
import { HTTP_PROTOCOL } from './http-settings';

// More connections than this (across all plugins of the VM) and every entry is dropped; the next
// request of each live connection rebuilds its entry (one identity lookup, a few allocations).
const MAX_REMEMBERED_CONNECTIONS = 1024;

export class HttpConnection {
  private policy: ConnectionPolicy | null = null;
  private entries: ConnectionEntries;
  // With static rules: the index of the rule that allowed the last request (-1: none).
  private staticRule: i32 = -1;

  constructor(
    readonly id: u64,
    readonly settings: PluginSettings,
    schema: HttpRuleSchema,
  ) {
    const binding = settings.agentPolicy;
    if (binding !== null) this.policy = new ConnectionPolicy(binding, schema, HTTP_PROTOCOL);
    this.entries = new ConnectionEntries(HTTP_PROTOCOL, settings);
  }

  // Brings the policy up to the agent's latest publish, which may name new header keys; call
  // before sizing and filling the request record.
  update(): void {
    const policy = this.policy;
    if (policy !== null) policy.update();
  }

  // True when the policy (or the static rules) allows the request in `record`.
  allows(record: RequestRecord): bool {
    this.staticRule = -1;
    const policy = this.policy;
    if (policy !== null) return policy.decide(record);
    const rules = this.settings.rules;
    if (rules === null) return false; // readHttpSettings refuses such a configuration
    this.staticRule = rules.matchingRule(record);
    return this.staticRule >= 0;
  }

  // Writes one access-log entry with `fields`, then clears them; a Denied entry after the agent's
  // policy denied carries its reason.
  log(type: EntryType, fields: LogFields, reason: string): void {
    this.entries.write(type, fields, reason, this.id, this.policy, this.staticRule, EntryBasis.Decision);
    fields.clear();
  }

  release(): void {
    this.entries.release();
  }
}

const connections = new Map<u64, HttpConnection>();

// The connection with Envoy's id `id`, made for `settings` on first sight. A connection id is
// unique for the life of the Envoy process, and one connection belongs to one listener, so one
// plugin configuration.
export function connectionFor(id: u64, settings: PluginSettings, schema: HttpRuleSchema): HttpConnection {
  if (connections.has(id)) {
    const known = connections.get(id);
    if (known.settings === settings) return known;
    known.release(); // the plugin was reconfigured (ECDS): its next requests use the new settings
  }
  if (connections.size >= MAX_REMEMBERED_CONNECTIONS) forgetConnections();
  const made = new HttpConnection(id, settings, schema);
  connections.set(id, made);
  return made;
}

function forgetConnections(): void {
  const known = connections.values();
  for (let i = 0; i < known.length; i++) known[i].release();
  connections.clear();
}
