// Checks that the config's redirects and the store's policies fit together, and says what to fix
// when they do not: a redirect guarding an endpoint the store does not define, a redirect whose
// endpoint port no ingress rule names (every connection through it is denied), and a port with L7
// rules that no redirect guards (the rules are enforced nowhere), with a hint when the policy
// names the listener's port instead of the endpoint's. Import, `weir serve`'s log and `weir status`
// report the same list.
import type { CompiledDirectionPolicy } from '../policy/compiled-policy.ts';
import type { PolicyStoreState } from '../store/policy-store.ts';
import type { RedirectConfig } from './weir-config.ts';

export interface WiringWarning {
  /** The redirect or endpoint the warning is about. */
  readonly subject: string;
  readonly message: string;
}

/** The port of a redirect's endpoint that its policies must name. */
export function redirectEndpointPort(redirect: Pick<RedirectConfig, 'endpointPort' | 'upstream'>): number {
  return redirect.endpointPort ?? redirect.upstream.port;
}

export function checkWiring(redirects: readonly RedirectConfig[], state: PolicyStoreState): WiringWarning[] {
  const warnings: WiringWarning[] = [];
  const endpoints = new Set(state.endpoints.map((endpoint) => endpoint.name));
  const policies = new Map(state.policySet.endpoints.map((policy) => [policy.endpoint, policy]));
  const guarded = redirects.filter((redirect): redirect is RedirectConfig & { endpoint: string } => redirect.endpoint !== undefined);
  for (const redirect of guarded) {
    const subject = `redirect ${redirect.name}`;
    if (!endpoints.has(redirect.endpoint)) {
      warnings.push({
        subject,
        message: `guards endpoint "${redirect.endpoint}", which the policy store does not define: its parser denies every request until an Endpoint document of that name is imported`,
      });
      continue;
    }
    const ingress = policies.get(redirect.endpoint)?.ingress;
    const port = redirectEndpointPort(redirect);
    if (ingress === undefined || ingress.enforcement !== 'default-deny' || portsNamed(ingress).length === 0 || covers(ingress, port)) continue;
    const named = portsNamed(ingress);
    const listenerHint = named.includes(redirect.listen.port) ? ` Port ${redirect.listen.port} is this redirect's listener; policies name the endpoint's port (${port}).` : '';
    warnings.push({
      subject,
      message: `guards endpoint "${redirect.endpoint}" port ${port}, but no ingress rule of its policies names that port (they name ${named.join(', ')}), so every connection through listener ${redirect.listen.address}:${redirect.listen.port} is denied.${listenerHint}`,
    });
  }
  for (const policy of state.policySet.endpoints) {
    const redirectPorts = guarded.filter((redirect) => redirect.endpoint === policy.endpoint).map(redirectEndpointPort);
    // An endpoint no redirect here guards is another proxy's (or a sidecar's): nothing to compare.
    if (redirectPorts.length === 0) continue;
    for (const port of policy.ingress.ports) {
      const l7 = port.rules.find((rule) => rule.l7 !== undefined)?.l7?.l7proto;
      if (l7 === undefined || port.port === 0) continue;
      if (redirectPorts.some((redirectPort) => redirectPort >= port.port && redirectPort <= port.endPort)) continue;
      const listener = guarded.find((redirect) => redirect.endpoint === policy.endpoint && redirect.listen.port === port.port);
      warnings.push({
        subject: `endpoint ${policy.endpoint}`,
        message:
          `its policies give port ${describePort(port)} ${l7} rules, but no redirect guards that port (redirects guard ${redirectPorts.join(', ')}), so those rules are enforced nowhere here.` +
          (listener ? ` Port ${port.port} is the listener of redirect ${listener.name}; write the rule for the endpoint's port ${redirectEndpointPort(listener)}.` : ''),
      });
    }
  }
  return warnings;
}

export function formatWiringWarning(warning: WiringWarning): string {
  return `${warning.subject}: ${warning.message}`;
}

function portsNamed(direction: CompiledDirectionPolicy): number[] {
  return direction.ports.filter((port) => port.port !== 0).map((port) => port.port);
}

function covers(direction: CompiledDirectionPolicy, port: number): boolean {
  return direction.ports.some((range) => range.port === 0 || (port >= range.port && port <= range.endPort));
}

function describePort(port: { port: number; endPort: number }): string {
  return port.endPort > port.port ? `${port.port}-${port.endPort}` : String(port.port);
}
