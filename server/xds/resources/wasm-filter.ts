// The Proxy-Wasm network filter config (envoy.extensions.filters.network.wasm.v3.Wasm) that runs a
// Weir parser: plugin name, root_id, VM, inline module bytes, the JSON configuration string and
// FAIL_RELOAD, either with the parser's own rules or bound to an endpoint's policy as the Weir agent
// publishes it. Used inside listeners and as the ECDS payload. Does not read files.
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

/** The vm_id shared by the Weir agent and every policy-enforcing parser: one shared-data namespace. */
export const WEIR_POLICY_VM_ID = 'weir';

/** The plugin configuration of a parser that enforces the agent's policy (docs/policy-wire.md). */
export interface AgentPolicyPluginConfiguration {
  parser: string;
  maxBufferBytes: number;
  policy: 'agent';
  endpoint: string;
  direction: 'ingress' | 'egress';
  /** The endpoint port whose rules apply; 'destination': the port each connection was addressed to. */
  port: number | 'destination';
  /**
   * Ingress only: a peer that presented a certificate (a TLS chain that verifies client
   * certificates, as Istio's inbound mTLS chain) is known by its SPIFFE ID from one of these trust
   * domains instead of its address (docs/istio.md).
   */
  spiffeTrustDomains?: string[];
}

export interface AgentPolicyFilterSpec {
  /** The plugin name (and, with ECDS, the TypedExtensionConfig name). */
  pluginName: string;
  moduleBytes: Uint8Array;
  configuration: AgentPolicyPluginConfiguration;
  /** The filter's config type: the network Wasm filter (default) or the HTTP one (the `http` parser). */
  wasmTypeUrl?: string;
}

/**
 * The parser's Wasm filter in a VM with vm_id `weir` (the agent's shared-data namespace), told to
 * decide with the agent's policy for one endpoint, direction and port. Same root_id and failure
 * policy as buildParserFilterConfig.
 */
export function buildAgentPolicyFilterConfig(spec: AgentPolicyFilterSpec): PackedAny {
  return packAny(spec.wasmTypeUrl ?? NETWORK_WASM_TYPE_URL, {
    config: {
      name: spec.pluginName,
      root_id: spec.configuration.parser,
      vm_config: { vm_id: WEIR_POLICY_VM_ID, runtime: V8_RUNTIME, code: { local: { inline_bytes: spec.moduleBytes } } },
      configuration: packAny(STRING_VALUE_TYPE_URL, { value: JSON.stringify(spec.configuration) }),
      failure_policy: 'FAIL_RELOAD',
    },
  });
}
