// Loads Envoy's data-plane-api protos from the tree vendored in @grpc/grpc-js-xds (no copies in this
// repo), plus Weir's own resource protos from protos/weir/. Owns two views of them: the gRPC service definitions (through @grpc/proto-loader) that
// ads.ts binds, and a protobufjs Root that resources/ use to encode messages into Any bytes.
// Loading costs a few hundred milliseconds, so each view is built once per process and reused;
// both are immutable schema, not state.
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import protobuf from 'protobufjs';
import { loadSync, type PackageDefinition } from '@grpc/proto-loader';

/** Files whose transitive closure holds every message Weir builds or receives. */
const RESOURCE_PROTO_FILES: readonly string[] = [
  'envoy/service/discovery/v3/ads.proto',
  'envoy/service/discovery/v3/discovery.proto',
  'envoy/config/listener/v3/listener.proto',
  'envoy/config/cluster/v3/cluster.proto',
  'envoy/config/endpoint/v3/endpoint.proto',
  'envoy/config/route/v3/route.proto',
  'envoy/config/core/v3/extension.proto',
  'envoy/extensions/filters/network/wasm/v3/wasm.proto',
  'envoy/extensions/filters/network/tcp_proxy/v3/tcp_proxy.proto',
  'envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.proto',
  'envoy/extensions/filters/http/wasm/v3/wasm.proto',
  'envoy/extensions/filters/http/router/v3/router.proto',
  'envoy/extensions/upstreams/http/v3/http_protocol_options.proto',
  // Transparent interception (server/xds/interception-resources.ts).
  'envoy/extensions/filters/listener/original_dst/v3/original_dst.proto',
  'envoy/extensions/filters/listener/original_src/v3/original_src.proto',
  'envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.proto',
  'envoy/extensions/filters/http/router/v3/router.proto',
];

/** Weir's own resource types, served on the same ADS server (under the repository's protos/). */
const WEIR_PROTO_FILES: readonly string[] = ['weir/network_policy.proto', 'weir/identity_map.proto'];

/** Services a proxy may call: ADS plus the per-type services. */
const SERVICE_PROTO_FILES: readonly string[] = [
  'envoy/service/discovery/v3/ads.proto',
  'envoy/service/listener/v3/lds.proto',
  'envoy/service/cluster/v3/cds.proto',
  'envoy/service/endpoint/v3/eds.proto',
  'envoy/service/route/v3/rds.proto',
  'envoy/service/extension/v3/config_discovery.proto',
];

const requireFromHere = createRequire(import.meta.url);

/** Directories searched for imports, in order: the four grpc-js-xds trees, then protobufjs's WKTs. */
export function envoyProtoIncludeDirs(): string[] {
  const xdsPackage = path.dirname(requireFromHere.resolve('@grpc/grpc-js-xds/package.json'));
  const protobufjsPackage = path.dirname(requireFromHere.resolve('protobufjs/package.json'));
  const trees = ['envoy-api', 'xds', 'googleapis', 'protoc-gen-validate'].map((tree) =>
    path.join(xdsPackage, 'deps', tree),
  );
  for (const tree of trees) {
    if (!fs.existsSync(tree)) {
      throw new Error(
        `Envoy protos not found at ${tree}; reinstall @grpc/grpc-js-xds (npm ci) so its deps/ folder is present`,
      );
    }
  }
  return [...trees, protobufjsPackage];
}

/** The repository's protos/ directory, holding Weir's own protos. */
export function weirProtoDir(): string {
  return path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'protos');
}

let resourceRoot: protobuf.Root | undefined;

/** The protobufjs Root with every Envoy and Weir message the server encodes or decodes, field names in snake_case. */
export function envoyResourceRoot(): protobuf.Root {
  if (!resourceRoot) {
    const includeDirs = [...envoyProtoIncludeDirs(), weirProtoDir()];
    const root = new protobuf.Root();
    root.resolvePath = (_origin, target) => resolveInIncludeDirs(target, includeDirs);
    root.loadSync([...RESOURCE_PROTO_FILES, ...WEIR_PROTO_FILES], { keepCase: true });
    root.resolveAll();
    resourceRoot = root;
  }
  return resourceRoot;
}

/** Looks up a message type by its full name, e.g. `envoy.config.listener.v3.Listener`. */
export function envoyMessageType(fullName: string): protobuf.Type {
  return envoyResourceRoot().lookupType(fullName);
}

let servicePackage: PackageDefinition | undefined;

/** proto-loader's package definition of the xDS services, messages as plain snake_case objects. */
export function xdsServicePackage(): PackageDefinition {
  if (!servicePackage) {
    servicePackage = loadSync([...SERVICE_PROTO_FILES], {
      keepCase: true,
      longs: String,
      enums: String,
      defaults: true,
      oneofs: true,
      includeDirs: envoyProtoIncludeDirs(),
    });
  }
  return servicePackage;
}

function resolveInIncludeDirs(target: string, includeDirs: readonly string[]): string {
  if (path.isAbsolute(target)) return target;
  for (const directory of includeDirs) {
    const candidate = path.join(directory, target);
    if (fs.existsSync(candidate)) return candidate;
  }
  throw new Error(`proto import "${target}" not found under ${includeDirs.join(', ')}`);
}
