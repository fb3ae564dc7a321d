// Proxy-Wasm ABI 0.2.1 host calls that Weir filters use, as Envoy (proxy-wasm-cpp-host) provides
// them in module `env`, and the numeric enums they take. Declarations only: typed wrappers live in
// host.ts. Every import here must exist in Envoy, or V8 refuses to load the module
// (scripts/build-filters.mjs checks this).

export const enum Status {
  Ok = 0,
  NotFound = 1,
  BadArgument = 2,
  Empty = 7,
}

export const enum Action {
  Continue = 0,
  Pause = 1,
}

export const enum BufferType {
  DownstreamData = 2,
  UpstreamData = 3,
  VmConfiguration = 6,
  PluginConfiguration = 7,
}

// Header maps of an HTTP stream (Proxy-Wasm proxy_map_type_t).
export const enum MapType {
  RequestHeaders = 0,
  ResponseHeaders = 2,
}

export const enum StreamType {
  Downstream = 2,
  Upstream = 3,
}

export const enum LogLevel {
  Trace = 0,
  Debug = 1,
  Info = 2,
  Warn = 3,
  Error = 4,
  Critical = 5,
}

@external("env", "proxy_log")
export declare function proxy_log(level: u32, messagePtr: usize, messageLen: usize): u32;

@external("env", "proxy_get_buffer_bytes")
export declare function proxy_get_buffer_bytes(bufferType: u32, start: u32, maxSize: u32, returnPtrPtr: usize, returnSizePtr: usize): u32;

@external("env", "proxy_set_buffer_bytes")
export declare function proxy_set_buffer_bytes(bufferType: u32, start: u32, size: u32, valuePtr: usize, valueLen: usize): u32;

@external("env", "proxy_get_header_map_value")
export declare function proxy_get_header_map_value(mapType: u32, keyPtr: usize, keyLen: usize, returnValuePtr: usize, returnValueLen: usize): u32;

@external("env", "proxy_get_header_map_pairs")
export declare function proxy_get_header_map_pairs(mapType: u32, returnPtrPtr: usize, returnSizePtr: usize): u32;

// gRPC status -1: none given, Envoy derives it from the HTTP status for gRPC requests.
@external("env", "proxy_send_local_response")
export declare function proxy_send_local_response(statusCode: u32, detailsPtr: usize, detailsLen: usize, bodyPtr: usize, bodyLen: usize, headerPairsPtr: usize, headerPairsLen: usize, grpcStatus: i32): u32;

@external("env", "proxy_close_stream")
export declare function proxy_close_stream(streamType: u32): u32;

@external("env", "proxy_get_property")
export declare function proxy_get_property(pathPtr: usize, pathLen: usize, returnPtrPtr: usize, returnLenPtr: usize): u32;

@external("env", "proxy_set_effective_context")
export declare function proxy_set_effective_context(contextId: u32): u32;

@external("env", "proxy_set_tick_period_milliseconds")
export declare function proxy_set_tick_period_milliseconds(periodMilliseconds: u32): u32;

@external("env", "proxy_get_current_time_nanoseconds")
export declare function proxy_get_current_time_nanoseconds(returnTimePtr: usize): u32;

@external("env", "proxy_get_log_level")
export declare function proxy_get_log_level(returnLevelPtr: usize): u32;

@external("env", "proxy_get_shared_data")
export declare function proxy_get_shared_data(keyPtr: usize, keyLen: usize, valuePtrPtr: usize, valueLenPtr: usize, casPtr: usize): u32;

@external("env", "proxy_set_shared_data")
export declare function proxy_set_shared_data(keyPtr: usize, keyLen: usize, valuePtr: usize, valueLen: usize, cas: u32): u32;

@external("env", "proxy_register_shared_queue")
export declare function proxy_register_shared_queue(namePtr: usize, nameLen: usize, tokenPtr: usize): u32;

@external("env", "proxy_resolve_shared_queue")
export declare function proxy_resolve_shared_queue(vmIdPtr: usize, vmIdLen: usize, namePtr: usize, nameLen: usize, tokenPtr: usize): u32;

@external("env", "proxy_enqueue_shared_queue")
export declare function proxy_enqueue_shared_queue(token: u32, valuePtr: usize, valueLen: usize): u32;

@external("env", "proxy_dequeue_shared_queue")
export declare function proxy_dequeue_shared_queue(token: u32, valuePtrPtr: usize, valueLenPtr: usize): u32;
