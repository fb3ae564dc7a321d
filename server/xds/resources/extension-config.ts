// TypedExtensionConfig resources (ECDS): the type URL and a builder that wraps a filter config
// (for Weir, the parser's Wasm filter) under the name a listener's config_discovery asks for.
import { encodeResource, type EncodedResource, type PackedAny } from './encoded-resource.ts';

export const EXTENSION_CONFIG_TYPE_URL = 'type.googleapis.com/envoy.config.core.v3.TypedExtensionConfig' as const;
export type ExtensionConfigTypeUrl = typeof EXTENSION_CONFIG_TYPE_URL;

export function buildExtensionConfig(name: string, typedConfig: PackedAny): EncodedResource {
  return encodeResource(EXTENSION_CONFIG_TYPE_URL, name, { name, typed_config: typedConfig });
}
