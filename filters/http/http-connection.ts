// What the HTTP filter keeps per downstream connection, shared by every request (HTTP/1.1
// keep-alive) or stream (HTTP/2) on it: the policy view (remote identity and the connection-level
// verdict, re-read when the agent publishes, so a policy change reaches the next request on an
// open connection), and the members every access-log entry of the connection repeats. Envoy gives
// an HTTP filter no connection-close callback, so connections are found by Envoy's connection id
// and forgotten in bulk when too many are kept (connectionFor). A forgotten connection that a
// stream still holds stays usable: release() only empties buffers, which are encoded again. Each
// connection counts its allowed requests (request-tally.ts); the connections with an open count are
// listed so that the root tick writes their entries when due.
import { ByteBuffer } from '../sdk/bytes/byte-buffer';
import { EntryAttribution, EntryType, LogFields } from '../sdk/access-log/access-log';
import { ConnectionEntries, EntryBasis } from '../sdk/contract/connection-entries';
import { ConnectionPolicy } from '../sdk/policy/policy-decision';
import { RequestRecord } from '../sdk/policy/rules';
import { PluginSettings } from '../sdk/contract/settings';
import { HttpRuleSchema } from './http-rule-schema';
import { HTTP_PROTOCOL } from './http-settings';
import { nowMilliseconds } from '../sdk/abi/host';
import { RequestTally, TALLY_WINDOW_MS } from './request-tally';

// More connections than this (across all plugins of the VM) and every entry is dropped; the next
// request of each live connection rebuilds its entry (one identity lookup, a few allocations).
const MAX_REMEMBERED_CONNECTIONS = 1024;

export class HttpConnection {
  private policy: ConnectionPolicy | null = null;
  private entries: ConnectionEntries;
  // With static rules: the index of the rule that allowed the last request (-1: none).
  private staticRule: i32 = -1;
  private tally: RequestTally = new RequestTally();
  listed: bool = false; // in `counting`

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

  // Fills `attribution` with what decided the last request (allows()), for its Request entry.
  attributeAllowed(attribution: EntryAttribution): void {
    this.entries.attribute(attribution, EntryType.Request, this.policy, this.staticRule, true);
  }

  // Writes one access-log entry with `fields`, then clears them; a Denied entry after the agent's
  // policy denied carries its reason. The allowed requests counted so far are written first.
  log(type: EntryType, fields: LogFields, reason: string): void {
    if (this.tally.requests > 0) this.writeTally(tallyFields); // `fields` holds this entry's
    this.entries.write(type, fields, reason, this.id, this.policy, this.staticRule, EntryBasis.Decision);
    fields.clear();
  }

  // Counts one allowed request (method, path and host one after the other in `line`) answered with
  // `status`, decided as `attribution` says; writes the count so far first when this request does
  // not continue it. Returns the number of requests counted now, 1 when a new count was opened (the
  // caller makes sure a tick will come). Counting a request that continues the count reads nothing
  // from Envoy, not even the clock.
  countAllowed(line: ByteBuffer, methodLength: i32, pathLength: i32, status: u64, attribution: EntryAttribution): u64 {
    const tally = this.tally;
    if (tally.continues(line, methodLength, pathLength, status, attribution)) {
      tally.requests += 1;
      return tally.requests;
    }
    if (tally.requests > 0) this.writeTally(tallyFields);
    tally.start(line, methodLength, pathLength, status, attribution, nowMilliseconds());
    if (!this.listed) {
      this.listed = true;
      counting.push(this);
    }
    return 1;
  }

  // Writes the open count's entry when it is at least TALLY_WINDOW_MS old (or `force`); true when
  // the connection has no open count afterwards.
  writeTallyIfDue(nowMs: u64, force: bool): bool {
    const tally = this.tally;
    if (tally.requests == 0) return true;
    if (!force && nowMs >= tally.startedMs && nowMs - tally.startedMs < TALLY_WINDOW_MS) return false;
    this.writeTally(tallyFields);
    return true;
  }

  release(): void {
    this.writeTallyIfDue(0, true);
    this.entries.release();
    this.tally.release();
  }

  private writeTally(fields: LogFields): void {
    const tally = this.tally;
    fields.clear();
    tally.addFields(fields);
    this.entries.writeAttributed(EntryType.Request, fields, '', this.id, tally.attribution);
    fields.clear();
    tally.requests = 0;
  }
}

// The fields of a count's entry, apart from the fields a denial is being logged with.
const tallyFields = new LogFields();
// Connections that were counting allowed requests at their last request (each listed once).
let counting = new Array<HttpConnection>();

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

// Writes the entries of the counts that are due (all of them with `force`); true when counts
// remain open, so the root tick is still needed.
export function writeDueTallies(nowMs: u64, force: bool): bool {
  const listed = counting;
  let kept = 0;
  for (let i = 0; i < listed.length; i++) {
    const connection = listed[i];
    if (connection.writeTallyIfDue(nowMs, force)) connection.listed = false;
    else listed[kept++] = connection;
  }
  listed.length = kept;
  return kept > 0;
}

function forgetConnections(): void {
  const known = connections.values();
  for (let i = 0; i < known.length; i++) known[i].release();
  connections.clear();
}
