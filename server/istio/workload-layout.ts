// Which ports of an Istio workload get which Weir parser, in which direction: the store's policy
// compiled with the workload added as an endpoint (before any of its pods runs), read the way Weir's
// own sidecar layout is (server/interception/interception-snapshots.ts, parserPortsOf). The
// manifests (istio-manifests.ts) turn it into one WasmPlugin per parser, port and direction.
import { endpointFromSpec, validateEndpointSpec } from '../identity/endpoints.ts';
import { parserPortsOf } from '../interception/interception-snapshots.ts';
import { compilePolicies } from '../policy/compile.ts';
import { formatProblem } from '../policy/policy-problems.ts';
import type { PolicyStoreState, StoreCompileSettings } from '../store/policy-store.ts';
import type { SidecarPortParser } from '../xds/sidecar-snapshot.ts';

/** An Istio workload as Weir names it: `<name>.<namespace>` is its Weir node and endpoint. */
export interface IstioWorkload {
  /** The workload (Deployment) name, as Istio's WORKLOAD_NAME. */
  readonly name: string;
  readonly namespace: string;
  /** Its pods' labels: the WasmPlugin selector and the endpoint's labels. */
  readonly labels: Readonly<Record<string, string>>;
  readonly serviceAccount?: string;
}

export interface WorkloadLayout {
  /** The policy revision the layout was computed from. */
  readonly revision: string;
  /** The Weir node id and endpoint name of the workload. */
  readonly endpoint: string;
  readonly inbound: readonly SidecarPortParser[];
  readonly outbound: readonly SidecarPortParser[];
  /** Ports whose l7proto has no module in filters.dir (guarded by `tcp`, which denies them). */
  readonly missingModules: readonly string[];
}

export type WorkloadLayoutResult = { ok: true; layout: WorkloadLayout } | { ok: false; problems: readonly string[] };

/** `<name>.<namespace>`: the workload's Weir node id (its certificate's) and endpoint name. */
export function workloadNodeId(workload: Pick<IstioWorkload, 'name' | 'namespace'>): string {
  return `${workload.name}.${workload.namespace}`;
}

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/** Every problem of a workload description, as `field: reason`. */
export function validateIstioWorkload(workload: IstioWorkload): string[] {
  const problems: string[] = [];
  if (!DNS_LABEL.test(workload.name) || workload.name.length > 63) problems.push(`name: "${workload.name}" is not a Kubernetes name (lower-case letters, digits and '-', at most 63)`);
  if (!DNS_LABEL.test(workload.namespace) || workload.namespace.length > 63) problems.push(`namespace: "${workload.namespace}" is not a Kubernetes namespace name`);
  if (Object.keys(workload.labels).length === 0) problems.push('labels: at least one label is needed; they select the workload\'s pods (WasmPlugin selector)');
  problems.push(...validateEndpointSpec({ name: workloadNodeId(workload), ips: [], labels: workload.labels, namespace: workload.namespace, ...(workload.serviceAccount === undefined ? {} : { serviceAccount: workload.serviceAccount }) }).map(({ field, reason }) => `${field}: ${reason}`));
  return problems;
}

export function workloadLayout(state: PolicyStoreState, settings: StoreCompileSettings, workload: IstioWorkload, filtersDir: string): WorkloadLayoutResult {
  const problems = validateIstioWorkload(workload);
  if (problems.length > 0) return { ok: false, problems };
  const name = workloadNodeId(workload);
  const endpoint = endpointFromSpec({
    name,
    namespace: workload.namespace,
    labels: workload.labels,
    ips: [],
    ...(workload.serviceAccount === undefined ? {} : { serviceAccount: workload.serviceAccount }),
  });
  // Its running pods (registered through their agents) are the same endpoint: replaced, not doubled.
  const endpoints = [...state.endpoints.filter((candidate) => candidate.name !== name), endpoint];
  const compiled = compilePolicies({ rules: state.rules, endpoints, ...settings });
  if (!compiled.ok) return { ok: false, problems: compiled.problems.map(formatProblem) };
  const policy = compiled.policySet.endpoints.find((candidate) => candidate.endpoint === name);
  const missingModules: string[] = [];
  const noteMissing = (direction: string) => (port: number, l7proto: string): void => void missingModules.push(`${direction} port ${port}: no ${l7proto}.wasm`);
  return {
    ok: true,
    layout: {
      revision: state.revision,
      endpoint: name,
      inbound: parserPortsOf(policy?.ingress, filtersDir, noteMissing('ingress')),
      outbound: parserPortsOf(policy?.egress, filtersDir, noteMissing('egress')),
      missingModules,
    },
  };
}
