// One endpoint's compiled policy as the control server serialises it (server/policy/serialize.ts,
// format weir.policy/v1, published by the agent under `weir/policy/<endpoint>`): per direction an
// enforcement and per port range the allow/deny rules with their remote identities and L7 rules.
// Owns reading and validating that JSON into tables; what the tables mean for a connection is in
// policy-decision.ts (after server/policy/decide.ts). L7 rules are read with the reading parser's
// RuleSchema when their l7proto is that parser's, else only checked for shape and kept aside.
import { JsonKind, JsonReader } from '../bytes/json-reader';
import { readRules } from './rule-config';
import { RuleSchema, RuleSet } from './rules';

export const POLICY_FORMAT = 'weir.policy/v1';

export const enum Enforcement {
  None = 0, // mode never: everything passes
  DefaultAllow = 1, // only deny rules and L7 rules restrict
  DefaultDeny = 2, // only what a rule allows passes
}

export const enum PortProtocol {
  Any = 0,
  Tcp = 1,
  Udp = 2,
}

export class PolicyRule {
  deny: bool = false;
  anyRemote: bool = false;
  remotes: Array<u32> = new Array<u32>();
  origins: string = '';
  // '' when the rule has no L7 part.
  l7proto: string = '';
  // The L7 rules when l7proto is the reading parser's protocol, else null.
  l7Rules: RuleSet | null = null;

  appliesTo(identity: u32): bool {
    if (this.anyRemote) return true;
    for (let i = 0; i < this.remotes.length; i++) if (this.remotes[i] == identity) return true;
    return false;
  }
}

export class PortPolicy {
  port: i32 = 0; // 0 with endPort 0: every port
  endPort: i32 = 0;
  protocol: PortProtocol = PortProtocol.Any;
  rules: Array<PolicyRule> = new Array<PolicyRule>();

  // True for a TCP connection to `port`.
  coversTcp(port: i32): bool {
    if (this.protocol == PortProtocol.Udp) return false;
    return this.port == 0 || (port >= this.port && port <= this.endPort);
  }
}

export class DirectionPolicy {
  enforcement: Enforcement = Enforcement.DefaultDeny;
  ports: Array<PortPolicy> = new Array<PortPolicy>();
}

export class EndpointPolicy {
  endpoint: string = '';
  identity: u32 = 0;
  ingress: DirectionPolicy = new DirectionPolicy();
  egress: DirectionPolicy = new DirectionPolicy();
}

// Reads one compiled endpoint policy. `schema` and `protocol` are the reading parser's; with a null
// schema (the agent validating before it publishes) every L7 rule is only checked for shape.
// Returns null with the reason in problem[0].
export function readEndpointPolicy(base: usize, length: i32, schema: RuleSchema | null, protocol: string, problem: Array<string>): EndpointPolicy | null {
  const policy = new EndpointPolicy();
  const reader = new JsonReader(base, length);
  let format = '';
  if (reader.beginObject()) {
    while (true) {
      const key = reader.nextKey();
      if (key === null) break;
      if (key == 'format') format = reader.readString();
      else if (key == 'endpoint') policy.endpoint = reader.readString();
      else if (key == 'identity') policy.identity = <u32>reader.readInteger('identity', 0, 4294967295.0, 0);
      else if (key == 'ingress') readDirection(reader, policy.ingress, schema, protocol, 'ingress');
      else if (key == 'egress') readDirection(reader, policy.egress, schema, protocol, 'egress');
      else reader.skipValue();
    }
  }
  if (!reader.failed && !reader.atEnd()) reader.fail('unexpected bytes after the policy object');
  if (!reader.failed && format != POLICY_FORMAT) reader.problem = 'format is "' + format + '", expected "' + POLICY_FORMAT + '"';
  if (!reader.failed && policy.endpoint.length == 0) reader.problem = 'endpoint is missing';
  if (reader.failed) {
    problem.push(reader.problem);
    return null;
  }
  return policy;
}

function readDirection(reader: JsonReader, direction: DirectionPolicy, schema: RuleSchema | null, protocol: string, where: string): void {
  if (!reader.beginObject()) return;
  while (true) {
    const key = reader.nextKey();
    if (key === null) break;
    if (key == 'enforcement') direction.enforcement = readEnforcement(reader, where + '.enforcement');
    else if (key == 'ports') readPorts(reader, direction, schema, protocol, where + '.ports');
    else reader.skipValue();
  }
}

function readEnforcement(reader: JsonReader, where: string): Enforcement {
  const text = reader.readString();
  if (text == 'none') return Enforcement.None;
  if (text == 'default-allow') return Enforcement.DefaultAllow;
  if (text == 'default-deny') return Enforcement.DefaultDeny;
  if (!reader.failed) reader.problem = where + ': unknown enforcement "' + text + '"; expected none, default-allow or default-deny';
  return Enforcement.DefaultDeny;
}

function readPorts(reader: JsonReader, direction: DirectionPolicy, schema: RuleSchema | null, protocol: string, where: string): void {
  if (!reader.beginArray()) return;
  let index = 0;
  while (reader.nextElement()) {
    const port = readPort(reader, schema, protocol, where + '[' + index.toString() + ']');
    if (port === null) return;
    direction.ports.push(port);
    index++;
  }
}

function readPort(reader: JsonReader, schema: RuleSchema | null, protocol: string, where: string): PortPolicy | null {
  const port = new PortPolicy();
  if (!reader.beginObject()) return null;
  while (true) {
    const key = reader.nextKey();
    if (key === null) break;
    if (key == 'port') port.port = <i32>reader.readInteger(where + '.port', 0, 65535, 0);
    else if (key == 'endPort') port.endPort = <i32>reader.readInteger(where + '.endPort', 0, 65535, 0);
    else if (key == 'protocol') port.protocol = readProtocol(reader, where + '.protocol');
    else if (key == 'rules') readPortRules(reader, port, schema, protocol, where + '.rules');
    else reader.skipValue();
  }
  if (reader.failed) return null;
  if (port.endPort < port.port) port.endPort = port.port;
  return port;
}

function readProtocol(reader: JsonReader, where: string): PortProtocol {
  const text = reader.readString();
  if (text == 'ANY') return PortProtocol.Any;
  if (text == 'TCP') return PortProtocol.Tcp;
  if (text == 'UDP') return PortProtocol.Udp;
  if (!reader.failed) reader.problem = where + ': unknown protocol "' + text + '"; expected TCP, UDP or ANY';
  return PortProtocol.Any;
}

function readPortRules(reader: JsonReader, port: PortPolicy, schema: RuleSchema | null, protocol: string, where: string): void {
  if (!reader.beginArray()) return;
  let index = 0;
  while (reader.nextElement()) {
    const rule = readPolicyRule(reader, schema, protocol, where + '[' + index.toString() + ']');
    if (rule === null) return;
    port.rules.push(rule);
    index++;
  }
}

function readPolicyRule(reader: JsonReader, schema: RuleSchema | null, protocol: string, where: string): PolicyRule | null {
  const rule = new PolicyRule();
  let verdict = '';
  if (!reader.beginObject()) return null;
  while (true) {
    const key = reader.nextKey();
    if (key === null) break;
    if (key == 'verdict') verdict = reader.readString();
    else if (key == 'remotes') readRemotes(reader, rule, where + '.remotes');
    else if (key == 'origins') rule.origins = readOrigins(reader);
    else if (key == 'l7') readL7(reader, rule, schema, protocol, where + '.l7');
    else reader.skipValue();
  }
  if (reader.failed) return null;
  if (verdict == 'deny') rule.deny = true;
  else if (verdict != 'allow') {
    reader.problem = where + '.verdict: "' + verdict + '" is neither allow nor deny';
    return null;
  }
  return rule;
}

// "any", or an array of identities.
function readRemotes(reader: JsonReader, rule: PolicyRule, where: string): void {
  if (reader.peekKind() == JsonKind.String) {
    const text = reader.readString();
    if (text == 'any') rule.anyRemote = true;
    else if (!reader.failed) reader.problem = where + ': expected "any" or a list of identities, got "' + text + '"';
    return;
  }
  if (!reader.beginArray()) return;
  while (reader.nextElement()) {
    rule.remotes.push(<u32>reader.readInteger(where + '[' + rule.remotes.length.toString() + ']', 0, 4294967295.0, 0));
    if (reader.failed) return;
  }
}

function readOrigins(reader: JsonReader): string {
  let joined = '';
  if (!reader.beginArray()) return joined;
  while (reader.nextElement()) {
    const origin = reader.readString();
    joined = joined.length == 0 ? origin : joined + ', ' + origin;
  }
  return joined;
}

// {"l7proto": "<parser>", "rules": [...]}; the canonical JSON sorts keys, so l7proto comes first.
function readL7(reader: JsonReader, rule: PolicyRule, schema: RuleSchema | null, protocol: string, where: string): void {
  if (!reader.beginObject()) return;
  while (true) {
    const key = reader.nextKey();
    if (key === null) break;
    if (key == 'l7proto') rule.l7proto = reader.readString();
    else if (key == 'rules') {
      if (rule.l7proto.length == 0) {
        reader.fail(where + ': "l7proto" must come before "rules" (canonical JSON sorts keys)');
        return;
      }
      const own = schema !== null && rule.l7proto == protocol;
      const rules = readRules(reader, own ? (schema as RuleSchema) : new AnyKeySchema());
      if (rules === null) {
        if (!reader.failed) reader.fail('invalid L7 rules');
        reader.problem = where + '.' + reader.problem;
        return;
      }
      if (own) rule.l7Rules = rules;
    } else reader.skipValue();
  }
  if (!reader.failed && rule.l7proto.length == 0) reader.problem = where + ': needs "l7proto"';
}

// Accepts every rule key (each new name gets the next id): checks the shape of L7 rules for a
// protocol other than the reader's, whose keys only that protocol's parser knows.
class AnyKeySchema extends RuleSchema {
  constructor() {
    super(new Array<string>());
  }

  keyId(name: string): i32 {
    for (let i = 0; i < this.keys.length; i++) if (this.keys[i] == name) return i;
    this.keys.push(name);
    return this.keys.length - 1;
  }
}
