// Answers proxy_get_property the way Envoy encodes attribute values: strings raw, integers as 8-byte
// little-endian, booleans as one byte. Paths arrive as NUL-separated segments and are looked up here
// joined with dots ("source.address"). Which table applies (plugin-wide or per connection) is decided
// by the caller; filter state written with proxy_set_property is kept per connection in FilterState.

export type PropertyValue = string | Uint8Array | number | bigint | boolean;

export interface Endpoint {
  address: string; // IP literal, e.g. "10.0.0.7" or "::1"
  port: number;
}

export function encodePropertyValue(value: PropertyValue): Uint8Array {
  if (typeof value === 'string') return new TextEncoder().encode(value);
  if (value instanceof Uint8Array) return value;
  if (typeof value === 'boolean') return Uint8Array.of(value ? 1 : 0);
  const out = new Uint8Array(8);
  new DataView(out.buffer).setBigInt64(0, BigInt.asIntN(64, BigInt(value)), true);
  return out;
}

export function pathFromWire(path: Uint8Array): string {
  return new TextDecoder().decode(path).split('\0').join('.');
}

export class PropertyTable {
  private readonly values = new Map<string, Uint8Array>();

  constructor(entries: Record<string, PropertyValue> = {}) {
    for (const [path, value] of Object.entries(entries)) this.set(path, value);
  }

  set(path: string, value: PropertyValue): void {
    this.values.set(path, encodePropertyValue(value));
  }

  get(path: string): Uint8Array | undefined {
    return this.values.get(path);
  }
}

// Envoy formats an address attribute as "ip:port", with brackets for IPv6.
export function formatAddress(endpoint: Endpoint): string {
  return endpoint.address.includes(':') ? `[${endpoint.address}]:${endpoint.port}` : `${endpoint.address}:${endpoint.port}`;
}

export function connectionProperties(options: {
  source: Endpoint;
  destination: Endpoint;
  connectionId: number;
  extra?: Record<string, PropertyValue>;
}): PropertyTable {
  return new PropertyTable({
    'source.address': formatAddress(options.source),
    'source.port': options.source.port,
    'destination.address': formatAddress(options.destination),
    'destination.port': options.destination.port,
    'connection.id': BigInt(options.connectionId),
    connection_id: BigInt(options.connectionId),
    ...options.extra,
  });
}

export interface PluginIdentity {
  pluginName: string;
  rootId: string;
  vmId: string;
  nodeId?: string;
  nodeCluster?: string;
  nodeMetadata?: Record<string, string>;
}

// Plugin-wide attributes (plugin_*, xds.node.*), readable from every context.
export function pluginProperties(identity: PluginIdentity, extra: Record<string, PropertyValue> = {}): PropertyTable {
  const table = new PropertyTable({
    plugin_name: identity.pluginName,
    plugin_root_id: identity.rootId,
    plugin_vm_id: identity.vmId,
  });
  const node: Record<string, string> = {};
  if (identity.nodeId !== undefined) node.id = identity.nodeId;
  if (identity.nodeCluster !== undefined) node.cluster = identity.nodeCluster;
  for (const [key, value] of Object.entries(identity.nodeMetadata ?? {})) node[`metadata.${key}`] = value;
  for (const [key, value] of Object.entries(node)) {
    table.set(`xds.node.${key}`, value);
    table.set(`node.${key}`, value); // deprecated Wasm alias Envoy still answers
  }
  for (const [path, value] of Object.entries(extra)) table.set(path, value);
  return table;
}
