// Validates one element of ingress / egress / ingressDeny / egressDeny: its peers (endpoint
// selectors, CIDRs, entities) and its toPorts (ports, and L7 rules for allow rules only).
import { cidrContains, formatCidr, parseCidr, type Cidr } from '../identity/cidr.ts';
import type { L7RuleRegistry } from './l7-rule-keys.ts';
import { ENTITIES, type Direction, type Entity, type PeerRule, type PeerSelector, type PortRange, type PortRule, type TransportProtocol } from './policy-model.ts';
import { joinPath, type ProblemList } from './policy-problems.ts';
import { checkFields, isPresent, readList, readObject, readString, readStringList, type RawObject } from './raw-fields.ts';
import { validateL7Rules } from './validate-l7.ts';
import { restrictToNamespace, validateSelector } from './validate-selector.ts';

export interface PeerRuleContext {
  readonly direction: Direction;
  readonly deny: boolean;
  readonly namespace: string | undefined;
  readonly registry: L7RuleRegistry;
}

const PEER_FIELDS: Record<Direction, { endpoints: string; cidr: string; cidrSet: string; entities: string }> = {
  ingress: { endpoints: 'fromEndpoints', cidr: 'fromCIDR', cidrSet: 'fromCIDRSet', entities: 'fromEntities' },
  egress: { endpoints: 'toEndpoints', cidr: 'toCIDR', cidrSet: 'toCIDRSet', entities: 'toEntities' },
};

const UNSUPPORTED_PEER_FIELDS: Readonly<Record<string, string>> = {
  fromRequires: 'fromRequires is deprecated in Cilium and not implemented; add the labels to fromEndpoints',
  toRequires: 'toRequires is deprecated in Cilium and not implemented; add the labels to toEndpoints',
  toServices: 'toServices is not implemented; select the service endpoints with toEndpoints',
  toFQDNs: 'toFQDNs (DNS-aware policy) is not implemented; use toCIDR',
  toGroups: 'toGroups (cloud security groups) is not implemented',
  fromNodes: 'fromNodes is not implemented; use fromEntities host/remote-node',
  toNodes: 'toNodes is not implemented; use toEntities host/remote-node',
  icmps: 'ICMP rules are not implemented; Weir enforces TCP and UDP ports',
  authentication: 'mutual authentication is not implemented',
};

const UNSUPPORTED_PORT_RULE_FIELDS: Readonly<Record<string, string>> = {
  terminatingTLS: 'TLS interception is not implemented',
  originatingTLS: 'TLS origination is not implemented',
  serverNames: 'SNI allow-lists are not implemented',
  listener: 'CiliumEnvoyConfig listeners are not implemented',
};

export function validatePeerRule(value: unknown, path: string, problems: ProblemList, context: PeerRuleContext): PeerRule | undefined {
  const object = readObject(value, path, problems, `a ${context.direction}${context.deny ? 'Deny' : ''} rule (a map)`);
  if (object === undefined) return undefined;
  const fields = PEER_FIELDS[context.direction];
  checkFields(object, path, { known: [...Object.values(fields), 'toPorts'], unsupported: UNSUPPORTED_PEER_FIELDS }, problems);
  const before = problems.count;
  const peers: PeerSelector[] = [
    ...endpointPeers(object, fields.endpoints, path, problems, context.namespace),
    ...cidrPeers(object, fields.cidr, path, problems),
    ...cidrSetPeers(object, fields.cidrSet, path, problems),
    ...entityPeers(object, fields.entities, path, problems),
  ];
  const ports = isPresent(object, 'toPorts') ? validateToPorts(object['toPorts'], joinPath(path, 'toPorts'), problems, context) : [];
  if (problems.count !== before) return undefined;
  const hasPeerField = Object.values(fields).some((field) => isPresent(object, field));
  return { path, peers, ports, allowsNothing: !hasPeerField && !isPresent(object, 'toPorts') };
}

function endpointPeers(object: RawObject, field: string, path: string, problems: ProblemList, namespace: string | undefined): PeerSelector[] {
  if (!isPresent(object, field)) return [];
  const listPath = joinPath(path, field);
  const selectors = readList(object[field], listPath, problems, 'a list of label selectors') ?? [];
  const peers: PeerSelector[] = [];
  selectors.forEach((item, index) => {
    const selector = validateSelector(item, joinPath(listPath, index), problems);
    if (selector !== undefined) peers.push({ kind: 'endpoints', selector: restrictToNamespace(selector, namespace) });
  });
  return peers;
}

function cidrPeers(object: RawObject, field: string, path: string, problems: ProblemList): PeerSelector[] {
  if (!isPresent(object, field)) return [];
  const listPath = joinPath(path, field);
  const texts = readStringList(object[field], listPath, problems, 'a list of CIDRs') ?? [];
  const peers: PeerSelector[] = [];
  texts.forEach((text, index) => {
    const cidr = readCidr(text, joinPath(listPath, index), problems);
    if (cidr !== undefined) peers.push({ kind: 'cidr', cidr, except: [] });
  });
  return peers;
}

function cidrSetPeers(object: RawObject, field: string, path: string, problems: ProblemList): PeerSelector[] {
  if (!isPresent(object, field)) return [];
  const listPath = joinPath(path, field);
  const items = readList(object[field], listPath, problems, 'a list of {cidr, except}') ?? [];
  const peers: PeerSelector[] = [];
  items.forEach((item, index) => {
    const itemPath = joinPath(listPath, index);
    const set = readObject(item, itemPath, problems, 'a map {cidr, except}');
    if (set === undefined) return;
    checkFields(set, itemPath, { known: ['cidr', 'except'], unsupported: { cidrGroupRef: 'CiliumCIDRGroup references are not implemented; list the CIDRs' } }, problems);
    const text = readString(set['cidr'], joinPath(itemPath, 'cidr'), problems, 'a CIDR');
    const cidr = text === undefined ? undefined : readCidr(text, joinPath(itemPath, 'cidr'), problems);
    const exceptTexts = isPresent(set, 'except') ? readStringList(set['except'], joinPath(itemPath, 'except'), problems, 'a list of CIDRs') ?? [] : [];
    const except: Cidr[] = [];
    exceptTexts.forEach((exceptText, exceptIndex) => {
      const exceptPath = joinPath(joinPath(itemPath, 'except'), exceptIndex);
      const excluded = readCidr(exceptText, exceptPath, problems);
      if (excluded === undefined || cidr === undefined) return;
      if (!cidrContains(cidr, excluded)) problems.add(exceptPath, `${formatCidr(excluded)} is not inside ${formatCidr(cidr)}`);
      else except.push(excluded);
    });
    if (cidr !== undefined) peers.push({ kind: 'cidr', cidr, except });
  });
  return peers;
}

function entityPeers(object: RawObject, field: string, path: string, problems: ProblemList): PeerSelector[] {
  if (!isPresent(object, field)) return [];
  const listPath = joinPath(path, field);
  const names = readStringList(object[field], listPath, problems, 'a list of entity names') ?? [];
  const peers: PeerSelector[] = [];
  names.forEach((name, index) => {
    const entity = ENTITIES.find((candidate) => candidate === name);
    if (entity === undefined) problems.add(joinPath(listPath, index), `unknown entity ${JSON.stringify(name)}; expected one of ${ENTITIES.join(', ')}`);
    else peers.push({ kind: 'entity', entity: entity as Entity });
  });
  return peers;
}

function readCidr(text: string, path: string, problems: ProblemList): Cidr | undefined {
  const parsed = parseCidr(text);
  if (parsed.ok) return parsed.cidr;
  problems.add(path, parsed.reason);
  return undefined;
}

function validateToPorts(value: unknown, path: string, problems: ProblemList, context: PeerRuleContext): PortRule[] {
  const entries = readList(value, path, problems, 'a list of {ports, rules}') ?? [];
  const rules: PortRule[] = [];
  entries.forEach((entry, index) => {
    const rule = validatePortRule(entry, joinPath(path, index), problems, context);
    if (rule !== undefined) rules.push(rule);
  });
  return rules;
}

function validatePortRule(value: unknown, path: string, problems: ProblemList, context: PeerRuleContext): PortRule | undefined {
  const object = readObject(value, path, problems, 'a map {ports, rules}');
  if (object === undefined) return undefined;
  checkFields(object, path, { known: ['ports', 'rules'], unsupported: UNSUPPORTED_PORT_RULE_FIELDS }, problems);
  const before = problems.count;
  const portsPath = joinPath(path, 'ports');
  const items = readList(object['ports'], portsPath, problems, 'a list of {port, protocol, endPort}') ?? [];
  if (Array.isArray(object['ports']) && items.length === 0) problems.add(portsPath, 'needs at least one port');
  const ports = items.map((item, index) => validatePort(item, joinPath(portsPath, index), problems)).filter((p): p is PortRange => p !== undefined);
  let l7: PortRule['l7'];
  if (isPresent(object, 'rules')) {
    const rulesPath = joinPath(path, 'rules');
    if (context.deny) problems.add(rulesPath, 'deny rules are L3/L4 only; L7 rules belong in ingress/egress allow rules');
    else {
      l7 = validateL7Rules(object['rules'], rulesPath, problems, context.registry);
      checkPortsCarryL7(ports, portsPath, problems);
    }
  }
  return problems.count === before ? { ports, l7 } : undefined;
}

function checkPortsCarryL7(ports: readonly PortRange[], path: string, problems: ProblemList): void {
  ports.forEach((range, index) => {
    if (range.port === 0) problems.add(joinPath(path, index), 'L7 rules need a specific port, not port 0 (all ports)');
    else if (range.protocol === 'UDP') problems.add(joinPath(joinPath(path, index), 'protocol'), 'L7 rules apply to TCP; use protocol TCP');
  });
}

function validatePort(value: unknown, path: string, problems: ProblemList): PortRange | undefined {
  const object = readObject(value, path, problems, 'a map {port, protocol, endPort}');
  if (object === undefined) return undefined;
  checkFields(object, path, { known: ['port', 'protocol', 'endPort'] }, problems);
  const port = readPortNumber(object['port'], joinPath(path, 'port'), problems);
  const protocol = isPresent(object, 'protocol') ? readProtocol(object['protocol'], joinPath(path, 'protocol'), problems) : 'ANY';
  let endPort = port ?? 0;
  if (isPresent(object, 'endPort')) {
    const end = readPortNumber(object['endPort'], joinPath(path, 'endPort'), problems);
    if (end !== undefined && port !== undefined) {
      if (port === 0) problems.add(joinPath(path, 'endPort'), 'a port range needs a non-zero start port');
      else if (end < port) problems.add(joinPath(path, 'endPort'), `endPort ${end} is below port ${port}`);
      else endPort = end;
    }
  }
  if (port === undefined || protocol === undefined) return undefined;
  return { port, endPort, protocol };
}

function readPortNumber(value: unknown, path: string, problems: ProblemList): number | undefined {
  if (typeof value === 'number' && !Number.isInteger(value)) {
    problems.add(path, `${value} is not a port number; expected an integer 0..65535`);
    return undefined;
  }
  const text = typeof value === 'number' ? String(value) : value;
  if (typeof text !== 'string') {
    problems.add(path, `expected a port number 0..65535, got ${value === undefined ? 'nothing' : JSON.stringify(value)}`);
    return undefined;
  }
  if (!/^\d+$/.test(text)) {
    problems.add(path, `${JSON.stringify(text)} is not a port number; named ports are not supported, use the number`);
    return undefined;
  }
  const port = Number(text);
  if (port > 65535) {
    problems.add(path, `port ${port} is above 65535`);
    return undefined;
  }
  return port;
}

function readProtocol(value: unknown, path: string, problems: ProblemList): TransportProtocol | undefined {
  const text = readString(value, path, problems, 'TCP, UDP or ANY');
  if (text === undefined) return undefined;
  const upper = text.toUpperCase();
  if (upper === 'TCP' || upper === 'UDP' || upper === 'ANY') return upper;
  problems.add(path, `unsupported protocol ${JSON.stringify(text)}; expected TCP, UDP or ANY`);
  return undefined;
}
