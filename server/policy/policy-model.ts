// The validated, normalised form of CiliumNetworkPolicy rules that the compiler consumes. Raw
// YAML/JSON never reaches the compiler: validate-*.ts turn it into these types or into problems.
// Field-by-field reference: docs/policy.md.
import type { Cidr } from '../identity/cidr.ts';
import type { CompiledL7Rule } from './l7-rule-keys.ts';

export type Direction = 'ingress' | 'egress';
export const DIRECTIONS: readonly Direction[] = ['ingress', 'egress'];

export type SelectorOperator = 'In' | 'NotIn' | 'Exists' | 'DoesNotExist';

export interface SelectorRequirement {
  /** `any` matches a label of any source. */
  readonly source: string;
  readonly key: string;
  readonly operator: SelectorOperator;
  readonly values: readonly string[];
}

/** A Kubernetes label selector; no requirements selects everything. */
export interface LabelSelector {
  readonly requirements: readonly SelectorRequirement[];
}

export const ENTITIES = ['all', 'world', 'host', 'cluster', 'init', 'unmanaged', 'remote-node', 'health', 'none'] as const;
export type Entity = (typeof ENTITIES)[number];

export type PeerSelector =
  | { readonly kind: 'endpoints'; readonly selector: LabelSelector }
  | { readonly kind: 'cidr'; readonly cidr: Cidr; readonly except: readonly Cidr[] }
  | { readonly kind: 'entity'; readonly entity: Entity };

export type TransportProtocol = 'TCP' | 'UDP' | 'ANY';

/** A port range; port 0 with endPort 0 means every port. */
export interface PortRange {
  readonly port: number;
  readonly endPort: number;
  readonly protocol: TransportProtocol;
}

export interface L7RuleSet {
  readonly l7proto: string;
  /** An empty list never occurs: `l7: []` is rejected. A rule with no keys allows every request. */
  readonly rules: readonly CompiledL7Rule[];
}

export interface PortRule {
  readonly ports: readonly PortRange[];
  readonly l7: L7RuleSet | undefined;
}

/** One element of ingress/egress/ingressDeny/egressDeny. */
export interface PeerRule {
  /** Where it came from, e.g. `specs[0].ingress[1]`, for messages. */
  readonly path: string;
  /** Empty means any peer. */
  readonly peers: readonly PeerSelector[];
  /** Empty means every port (an L3-only rule). */
  readonly ports: readonly PortRule[];
  /** True for `{}` (no peers, no ports): selects the endpoint without allowing anything. */
  readonly allowsNothing: boolean;
}

export interface RuleOrigin {
  readonly file: string;
  readonly document?: number;
  /** `spec`, `specs[2]`, or `[2]` for a plain JSON rule list. */
  readonly path: string;
  readonly policyName?: string;
  readonly namespace?: string;
}

export interface PolicyRule {
  readonly origin: RuleOrigin;
  readonly endpointSelector: LabelSelector;
  readonly ingress: readonly PeerRule[];
  readonly egress: readonly PeerRule[];
  readonly ingressDeny: readonly PeerRule[];
  readonly egressDeny: readonly PeerRule[];
  /** Cilium's enableDefaultDeny; false means this rule does not switch the direction to default-deny. */
  readonly defaultDeny: { readonly ingress: boolean; readonly egress: boolean };
  readonly labels: Readonly<Record<string, string>>;
  readonly description?: string;
}

export type EnforcementMode = 'default' | 'always' | 'never';
