// The snapshot each intercepting proxy gets from `weir serve`: the policy resources every proxy
// shares, plus its own listener layout derived from compiled policy (a sidecar: its endpoint's; a
// per-node proxy: every endpoint's, addressed by IP): a parser chain
// for every single TCP port whose rules carry an l7proto with a built parser module, the `tcp`
// guard for everything else (so ports and destinations no rule names follow Cilium's semantics:
// denied once a policy selects the endpoint in that direction, passed otherwise, or denied in
// mode `always`, decided by the agent's policy on every chunk). An l7proto whose module is missing
// is guarded by `tcp`, which denies it (fail closed), and is logged.
import fs from 'node:fs';
import path from 'node:path';
import type { Logger } from 'pino';
import type { CompiledDirectionPolicy, CompiledPolicySet } from '../policy/compiled-policy.ts';
import type { EncodedResource } from '../xds/resources/encoded-resource.ts';
import { readParserModule } from '../snapshot/serve-snapshot.ts';
import type { FilterDelivery } from '../xds/resources/listener.ts';
import { buildSidecarResources, TCP_GUARD_PARSER, type SidecarPortParser } from '../xds/sidecar-snapshot.ts';
import { Snapshot } from '../xds/snapshot.ts';
import { buildNodeResources } from '../xds/node-snapshot.ts';
import type { InterceptingProxy } from './intercepting-proxies.ts';

export interface InterceptionSnapshotContext {
  policySet: CompiledPolicySet;
  /** The policy resources (weir.NetworkPolicy, weir.IdentityMap) every proxy gets. */
  policyResources: readonly EncodedResource[];
  filtersDir: string;
  filterDelivery: FilterDelivery;
  logger: Logger;
}

export function buildInterceptionSnapshot(proxy: InterceptingProxy, context: InterceptionSnapshotContext): Snapshot {
  const modules = new Map<string, Uint8Array>();
  const moduleFor = (parser: string): Uint8Array => {
    let bytes = modules.get(parser);
    if (bytes === undefined) {
      bytes = readParserModule(context.filtersDir, parser, (file) => fs.readFileSync(file));
      modules.set(parser, bytes);
    }
    return bytes;
  };
  const options = { moduleFor, filterDelivery: context.filterDelivery };
  const parserPorts = (direction: CompiledDirectionPolicy | undefined): SidecarPortParser[] => portParsers(direction, context, proxy.nodeId);
  if (proxy.metadata.layout === 'node') {
    const layout = buildNodeResources(
      {
        listenerPort: proxy.metadata.listenerPort ?? 0,
        adminPort: proxy.metadata.adminPort,
        endpoints: context.policySet.endpoints.map((policy) => ({ name: policy.endpoint, ips: policy.ips, inbound: parserPorts(policy.ingress), outbound: parserPorts(policy.egress) })),
      },
      options,
    );
    return new Snapshot([...context.policyResources, ...layout]);
  }
  const policy = context.policySet.endpoints.find((candidate) => candidate.endpoint === proxy.endpoint);
  const layout = buildSidecarResources(
    {
      endpoint: proxy.endpoint ?? '',
      interceptionMode: proxy.metadata.interceptionMode,
      adminPort: proxy.metadata.adminPort,
      tproxyMark: proxy.metadata.tproxyMark,
      inbound: parserPorts(policy?.ingress),
      outbound: parserPorts(policy?.egress),
    },
    options,
  );
  return new Snapshot([...context.policyResources, ...layout]);
}

/**
 * Single TCP ports whose allow rules name an l7proto, with the parser that reads each: its module
 * in `filtersDir`, or the `tcp` guard when that module is missing (which denies the port's L7
 * rules: fail closed; `onMissingModule` hears of it). Shared with the layout an Istio sidecar gets
 * (server/istio/).
 */
export function parserPortsOf(
  direction: CompiledDirectionPolicy | undefined,
  filtersDir: string,
  onMissingModule: (port: number, l7proto: string) => void,
): SidecarPortParser[] {
  const byPort = new Map<number, string>();
  for (const portPolicy of direction?.ports ?? []) {
    if (portPolicy.port === 0 || (portPolicy.endPort !== 0 && portPolicy.endPort !== portPolicy.port) || portPolicy.protocol === 'UDP') continue;
    const l7proto = portPolicy.rules.find((rule) => rule.l7 !== undefined)?.l7?.l7proto;
    if (l7proto === undefined || byPort.has(portPolicy.port)) continue;
    if (fs.existsSync(path.join(filtersDir, `${l7proto}.wasm`))) {
      byPort.set(portPolicy.port, l7proto);
    } else {
      onMissingModule(portPolicy.port, l7proto);
      byPort.set(portPolicy.port, TCP_GUARD_PARSER);
    }
  }
  return [...byPort].sort(([a], [b]) => a - b).map(([port, parser]) => ({ port, parser }));
}

function portParsers(direction: CompiledDirectionPolicy | undefined, context: InterceptionSnapshotContext, nodeId: string): SidecarPortParser[] {
  return parserPortsOf(direction, context.filtersDir, (port, l7proto) =>
    context.logger.warn({ nodeId, port, l7proto }, `no parser module ${l7proto}.wasm in filters.dir; the port is guarded by the tcp guard, which denies its L7 rules (fail closed)`),
  );
}
