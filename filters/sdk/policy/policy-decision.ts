// Decides a connection's requests with the policy the Weir agent published, with the meaning of
// server/policy/decide.ts (the reference): enforcement off allows; a matching deny rule denies; an
// allow without L7 rules allows; otherwise, with L7 rules, a request passes when one of them
// matches; with none, default-deny denies. No policy published for the endpoint denies (fail
// closed). The connection-level part (remote identity, L3/L4 verdict, applicable L7 rule sets) is
// worked out once per publish generation; per request only the L7 rules run (`weir/generation` is
// read once per data callback, policy-shared-data.ts). Every denial leaves its reason in
// `denyReason` for the access log, every allow the rule that allowed it in `allowingRule` (its
// origins, plus ` l7[n]` for the L7 rule that matched); the names are built per generation, so a
// request allocates nothing.
//
// The remote identity: with `spiffeTrustDomains` configured (ingress), a peer that presented a
// certificate is known by its SPIFFE ID alone (Envoy's TLS verified it; the source address is not
// consulted), and one Weir cannot map (untrusted trust domain, other URI, unknown service account)
// is denied; a connection without a peer certificate, and every connection otherwise, is known by
// its source (ingress) or destination (egress) address through the identity map.
import { endpointPolicyAt, identityMapPublished, identityTableAt } from './policy-cache';
import { AgentPolicyBinding, PORT_OF_DESTINATION } from './policy-config';
import { readGeneration } from './policy-shared-data';
import { DirectionPolicy, Enforcement, EndpointPolicy, PolicyRule } from './policy-table';
import { hostOf } from './identity-table';
import { resolveSpiffeId } from './spiffe-id';
import { RequestRecord, RuleSchema, RuleSet } from './rules';
import { propertyBytes, propertyString, propertyU64 } from '../abi/host';

const NO_IDENTITY_MAP_YET = ' (the Weir agent has published no identity map yet, so every remote counts as world)';

const enum Layer4 {
  Allow = 0,
  Deny = 1,
  L7 = 2, // each request must match one of `l7Sets`
}

export class ConnectionPolicy {
  private generation: u64 = u64.MAX_VALUE;
  private remoteAddress: string = '';
  // The peer certificate's first URI SAN, read once; `peerPresentedCertificate` says whether there was a certificate.
  private peerUri: string = '';
  private peerPresentedCertificate: bool = false;
  private peerRead: bool = false;
  private spiffeProblem: string = '';
  private port: i32 = 0; // the binding's port, or the connection's destination port
  private layer4: Layer4 = Layer4.Deny;
  private layer4Reason: string = '';
  private l7Sets: Array<RuleSet> = new Array<RuleSet>();
  // Per L7 set, the access-log name of each of its rules ("<origins> l7[n]").
  private l7RuleNames: Array<Array<string>> = new Array<Array<string>>();
  private layer4Rule: string = '';
  private l7DenyReason: string = '';
  remoteIdentity: u32 = 0;
  // The endpoint's own identity and the policy's revision, as published ('' / 0 when unknown).
  localIdentity: u32 = 0;
  revision: string = '';
  // Why the last decide() denied; '' after an allow.
  denyReason: string = '';
  // The rule that allowed the last decide(); '' after a denial or when no rule was needed
  // (enforcement none, default-allow).
  allowingRule: string = '';

  constructor(
    private binding: AgentPolicyBinding,
    private schema: RuleSchema,
    private protocol: string,
  ) {}

  // Re-reads the connection-level part when the agent published since (decide() does it first).
  // A filter whose rule keys come from the policy itself (HTTP header names) calls it before it
  // fills the request record, so the record has a slot for every key the policy names.
  update(): void {
    const generation = readGeneration();
    if (generation != this.generation) this.refresh(generation);
  }

  // True when the endpoint's current policy allows the request decoded into `record`.
  decide(record: RequestRecord): bool {
    this.denyReason = '';
    this.allowingRule = '';
    this.update();
    if (this.layer4 == Layer4.Allow) {
      this.allowingRule = this.layer4Rule;
      return true;
    }
    if (this.layer4 == Layer4.Deny) {
      this.denyReason = this.layer4Reason;
      return false;
    }
    for (let i = 0; i < this.l7Sets.length; i++) {
      const matched = this.l7Sets[i].matchingRule(record);
      if (matched < 0) continue;
      const names = this.l7RuleNames[i];
      if (matched < names.length) this.allowingRule = names[matched];
      return true;
    }
    this.denyReason = this.l7DenyReason;
    return false;
  }

  private refresh(generation: u64): void {
    this.generation = generation;
    if (this.remoteAddress.length == 0) {
      const address = propertyString(this.binding.ingress ? 'source.address' : 'destination.address', '');
      this.remoteAddress = hostOf(address);
    }
    if (this.port == 0) this.port = this.binding.port == PORT_OF_DESTINATION ? <i32>propertyU64('destination.port', 0) : this.binding.port;
    this.resolveRemoteIdentity(generation);
    this.l7Sets = new Array<RuleSet>();
    this.l7RuleNames = new Array<Array<string>>();
    this.layer4Rule = '';
    const cached = endpointPolicyAt(this.binding.endpoint, generation, this.schema, this.protocol);
    const policy = cached.policy;
    this.revision = cached.revision;
    this.localIdentity = policy === null ? 0 : policy.identity;
    if (policy === null) {
      const why = cached.problem.length > 0 ? 'the policy for endpoint ' + this.binding.endpoint + ' is unreadable (' + cached.problem + ')' : 'no policy for endpoint ' + this.binding.endpoint + ' yet';
      this.setLayer4(Layer4.Deny, why + '; denied until the Weir agent publishes one (fail closed)');
      return;
    }
    if (this.spiffeProblem.length > 0) {
      this.setLayer4(Layer4.Deny, this.spiffeProblem + '; denied (fail closed)' + (identityMapPublished() ? '' : NO_IDENTITY_MAP_YET));
      return;
    }
    this.decideLayer4(policy);
  }

  // The SPIFFE ID's identity when the plugin trusts SPIFFE IDs and the peer presented a
  // certificate, else the address's. A SPIFFE ID that maps to nothing leaves `spiffeProblem`.
  private resolveRemoteIdentity(generation: u64): void {
    const table = identityTableAt(generation);
    this.spiffeProblem = '';
    const trustDomains = this.binding.spiffeTrustDomains;
    if (trustDomains.length > 0 && this.binding.ingress) {
      if (!this.peerRead) {
        this.peerRead = true;
        const mtls = propertyBytes('connection.mtls');
        this.peerPresentedCertificate = mtls !== null && mtls.byteLength == 1 && load<u8>(changetype<usize>(mtls)) != 0;
        this.peerUri = propertyString('connection.uri_san_peer_certificate', '');
      }
      if (this.peerPresentedCertificate || this.peerUri.length > 0) {
        const resolved = resolveSpiffeId(this.peerUri, trustDomains, table);
        this.remoteIdentity = resolved.identity;
        this.spiffeProblem = resolved.problem;
        return;
      }
    }
    this.remoteIdentity = table.lookup(this.remoteAddress);
  }

  // decide.ts without the L7 request: which verdict the connection gets, or which L7 rules apply.
  private decideLayer4(policy: EndpointPolicy): void {
    const direction: DirectionPolicy = this.binding.ingress ? policy.ingress : policy.egress;
    if (direction.enforcement == Enforcement.None) {
      this.setLayer4(Layer4.Allow, '');
      return;
    }
    const identity = this.remoteIdentity;
    const port = this.port;
    const applicable = new Array<PolicyRule>();
    for (let p = 0; p < direction.ports.length; p++) {
      const portPolicy = direction.ports[p];
      if (!portPolicy.coversTcp(port)) continue;
      for (let r = 0; r < portPolicy.rules.length; r++) {
        const rule = portPolicy.rules[r];
        if (rule.appliesTo(identity)) applicable.push(rule);
      }
    }
    for (let i = 0; i < applicable.length; i++) {
      const rule = applicable[i];
      if (rule.deny) {
        this.setLayer4(Layer4.Deny, 'remote identity ' + identity.toString() + ' denied on port ' + port.toString() + ' by deny rule ' + rule.origins);
        return;
      }
    }
    let l7proto = '';
    for (let i = 0; i < applicable.length; i++) {
      const rule = applicable[i];
      if (rule.l7proto.length == 0) {
        this.setLayer4(Layer4.Allow, '');
        this.layer4Rule = rule.origins;
        return;
      }
      l7proto = rule.l7proto;
      const rules = rule.l7Rules;
      if (rules !== null) {
        this.l7Sets.push(rules);
        this.l7RuleNames.push(l7RuleNames(rule.origins, rules.rules.length));
      }
    }
    if (l7proto.length == 0) {
      if (direction.enforcement == Enforcement.DefaultDeny) this.setLayer4(Layer4.Deny, 'remote identity ' + identity.toString() + ' not allowed on port ' + port.toString() + (identityMapPublished() ? '' : NO_IDENTITY_MAP_YET));
      else this.setLayer4(Layer4.Allow, '');
      return;
    }
    if (this.l7Sets.length == 0) {
      this.setLayer4(Layer4.Deny, 'port ' + port.toString() + ' has ' + l7proto + ' L7 rules, which the ' + this.protocol + ' parser cannot apply');
      return;
    }
    this.setLayer4(Layer4.L7, '');
    this.l7DenyReason = 'no L7 rule matched (' + this.protocol + ' rules for remote identity ' + identity.toString() + ' on port ' + port.toString() + ')';
  }

  private setLayer4(verdict: Layer4, reason: string): void {
    this.layer4 = verdict;
    this.layer4Reason = reason;
  }
}

// "<origins> l7[0]", "<origins> l7[1]", ...: the names of a compiled rule's L7 rules.
function l7RuleNames(origins: string, count: i32): Array<string> {
  const names = new Array<string>(count);
  for (let i = 0; i < count; i++) names[i] = origins + ' l7[' + i.toString() + ']';
  return names;
}
