// The compiled policy: per endpoint, per direction, per port, which remote identities are allowed
// or denied and which L7 rules apply. This is what the xDS layer wraps in weir.NetworkPolicy and
// what the filters enforce; decide.ts gives its reference meaning.
import type { CompiledL7Rule } from './l7/l7-rule-types.ts';
import type { EnforcementMode, TransportProtocol } from './policy-model.ts';

/**
 * none: enforcement is off (mode never), everything passes.
 * default-allow: no rule switched this direction to default-deny; only deny rules and L7 rules restrict.
 * default-deny: only what a rule allows passes.
 */
export type DirectionEnforcement = 'none' | 'default-allow' | 'default-deny';

export interface CompiledL7RuleSet {
  readonly l7proto: string;
  readonly rules: readonly CompiledL7Rule[];
}

export interface CompiledPortRule {
  readonly verdict: 'allow' | 'deny';
  /** Sorted identities, or every remote. */
  readonly remotes: 'any' | readonly number[];
  /** Allow rules only: when set, requests must also match one of these rules. */
  readonly l7?: CompiledL7RuleSet;
  /** Where the rule came from, e.g. `policies/db.yaml specs[0].ingress[1]`. */
  readonly origins: readonly string[];
}

export interface CompiledPortPolicy {
  /** 0 with endPort 0: every port. */
  readonly port: number;
  readonly endPort: number;
  readonly protocol: TransportProtocol;
  readonly rules: readonly CompiledPortRule[];
}

export interface CompiledDirectionPolicy {
  readonly enforcement: DirectionEnforcement;
  readonly ports: readonly CompiledPortPolicy[];
}

export interface CompiledEndpointPolicy {
  readonly endpoint: string;
  readonly namespace?: string;
  readonly identity: number;
  readonly ips: readonly string[];
  readonly ingress: CompiledDirectionPolicy;
  readonly egress: CompiledDirectionPolicy;
}

export interface CompiledIdentity {
  readonly identity: number;
  readonly labels: readonly string[];
}

export interface CompiledPolicySet {
  readonly enforcementMode: EnforcementMode;
  /** Sorted by identity. */
  readonly identities: readonly CompiledIdentity[];
  /** IP/CIDR -> identity; addresses outside every entry are world (2). */
  readonly ipIdentities: ReadonlyArray<{ readonly cidr: string; readonly identity: number }>;
  /**
   * Namespace/service account -> the identity of a peer that proves only those (a SPIFFE ID,
   * docs/istio.md); sorted by namespace, then service account.
   */
  readonly serviceAccountIdentities: ReadonlyArray<{ readonly namespace: string; readonly serviceAccount: string; readonly identity: number }>;
  /** Sorted by endpoint name. */
  readonly endpoints: readonly CompiledEndpointPolicy[];
}
