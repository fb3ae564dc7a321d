// The Proxy-Wasm network filter config (envoy.extensions.filters.network.wasm.v3.Wasm) that runs a
// Weir parser: plugin name, root_id, VM, inline module bytes, the JSON configuration string and
// FAIL_RELOAD. Used inside listeners now and as the ECDS payload later. Does not read files.
import { packAny, type PackedAny } from './encoded-resource.ts';

export const NETWORK_WASM_TYPE_URL = 'type.googleapis.com/envoy.extensions.filters.network.wasm.v3.Wasm' as const;
export const NETWORK_WASM_FILTER_NAME = 'envoy.filters.network.wasm';
export const V8_RUNTIME = 'envoy.wasm.runtime.v8';

const STRING_VALUE_TYPE_URL = 'type.googleapis.com/google.protobuf.StringValue';

export interface ParserFilterSpec {
  /** The redirect this filter serves; the plugin is named `weir.<redirect>`. */
  redirectName: string;
  /** Parser name: root_id, and the `weir.<parser>` vm_id. */
  parser: string;
  /** The compiled module. */
  moduleBytes: Uint8Array;
  /** Per-connection buffer cap passed to the parser. Default 1 MiB. */
  maxBufferBytes?: number;
}

export const DEFAULT_MAX_BUFFER_BYTES = 1_048_576;

/** The filter's typed_config: an Any of the network Wasm filter. */
export function buildParserFilterConfig(spec: ParserFilterSpec): PackedAny {
  const pluginConfiguration = JSON.stringify({
    parser: spec.parser,
    maxBufferBytes: spec.maxBufferBytes ?? DEFAULT_MAX_BUFFER_BYTES,
  });
  return packAny(NETWORK_WASM_TYPE_URL, {
    config: {
      name: `weir.${spec.redirectName}`,
      root_id: spec.parser,
      vm_config: {
        vm_id: `weir.${spec.parser}`,
        runtime: V8_RUNTIME,
        code: { local: { inline_bytes: spec.moduleBytes } },
      },
      configuration: packAny(STRING_VALUE_TYPE_URL, { value: pluginConfiguration }),
      failure_policy: 'FAIL_RELOAD',
    },
  });
}
