// Writes the access-log entries of one connection, for the parsers' connections (connection.ts)
// and the HTTP filter's (filters/http): encodes once what every entry of the connection repeats
// (addresses, proto, connection id, direction, endpoint), attributes each entry to what decided
// it (with the agent's policy: both identities, the revision and, on a Request, the rule that
// allowed it; with static rules: the rule), and gives a Denied entry the policy's reason.
import { ConnectionConstants, EntryAttribution, EntryType, LogFields, writeAccessLog } from '../access-log/access-log';
import { ConnectionPolicy } from '../policy/policy-decision';
import { PluginSettings } from './settings';

// What an entry stands on: a decision of the request it logs, or only the connection (a refusal
// of the parser's own, an Error entry).
export const enum EntryBasis {
  Decision = 0,
  Connection = 1,
}

export class ConnectionEntries {
  // Empty until the first entry, which is always written where the connection's properties are
  // visible (a data callback, or an HTTP stream callback).
  private constants: ConnectionConstants = new ConnectionConstants();
  private attribution: EntryAttribution = new EntryAttribution();

  constructor(
    private protocol: string,
    private settings: PluginSettings,
  ) {}

  // Writes one entry with `fields`; `policy` is the agent's (null with static rules) and, when
  // `basis` is a decision, decided the request (its reason and allowing rule apply), or static
  // rule `staticRule` allowed it (-1: none). An entry written without a decision carries the
  // policy's identities and revision only.
  write(type: EntryType, fields: LogFields, reason: string, connectionId: u64, policy: ConnectionPolicy | null, staticRule: i32, basis: EntryBasis): void {
    const decided = basis == EntryBasis.Decision;
    if (decided && policy !== null && type == EntryType.Denied && policy.denyReason.length > 0) reason = policy.denyReason;
    this.writeAttributed(type, fields, reason, connectionId, this.attribute(this.attribution, type, policy, decided ? staticRule : -1, decided));
  }

  // Writes one entry attributed as `attribution` says: what attribute() gave for an earlier
  // decision (the HTTP filter logs counted requests after later decisions on the connection).
  writeAttributed(type: EntryType, fields: LogFields, reason: string, connectionId: u64, attribution: EntryAttribution): void {
    if (!this.constants.isFilled) this.fillConstants(connectionId);
    writeAccessLog(this.constants, type, attribution, fields, reason);
  }

  release(): void {
    this.constants.release();
  }

  private fillConstants(connectionId: u64): void {
    const binding = this.settings.agentPolicy;
    const direction = binding !== null ? (binding.ingress ? 'ingress' : 'egress') : this.settings.direction;
    const endpoint = binding !== null ? binding.endpoint : this.settings.endpoint;
    this.constants.fill(this.protocol, connectionId, direction, endpoint);
  }

  // Fills `attribution` for an entry of `type` after the decision of `policy` (null: static rule
  // `staticRule` decided, -1: none) or, when not `decided`, with the policy's identities and
  // revision only; returns it.
  attribute(attribution: EntryAttribution, type: EntryType, policy: ConnectionPolicy | null, staticRule: i32, decided: bool): EntryAttribution {
    attribution.rule = '';
    if (policy !== null) {
      const ingress = this.settings.agentPolicy!.ingress;
      attribution.revision = policy.revision;
      attribution.sourceIdentity = ingress ? policy.remoteIdentity : policy.localIdentity;
      attribution.destinationIdentity = ingress ? policy.localIdentity : policy.remoteIdentity;
      if (type == EntryType.Request && decided) attribution.rule = policy.allowingRule;
    } else if (type == EntryType.Request && staticRule >= 0) {
      attribution.rule = this.settings.ruleName(staticRule);
    }
    return attribution;
  }
}
