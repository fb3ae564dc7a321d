// The Proxy-Wasm ABI 0.2.x numbers the test host speaks: status codes, enums, and the exact Wasm
// signatures of the host functions Envoy 1.40 links and of the callbacks it calls. One place, so no
// other module repeats a magic number. Behaviour lives elsewhere (host-functions.ts, vm-instance.ts).

export const Status = {
  Ok: 0,
  NotFound: 1,
  BadArgument: 2,
  SerializationFailure: 3,
  ParseFailure: 4,
  InvalidMemoryAccess: 6,
  Empty: 7,
  CasMismatch: 8,
  InternalFailure: 10,
  Unimplemented: 12,
} as const;
export type StatusCode = (typeof Status)[keyof typeof Status];

export const FilterAction = { Continue: 0, Pause: 1 } as const;

export const BufferType = {
  HttpRequestBody: 0,
  HttpResponseBody: 1,
  DownstreamData: 2,
  UpstreamData: 3,
  HttpCallResponseBody: 4,
  GrpcCallMessage: 5,
  VmConfiguration: 6,
  PluginConfiguration: 7,
  ForeignFunctionArguments: 8,
} as const;
export const maxBufferType = 8;

export const MapType = {
  GrpcReceiveInitialMetadata: 4,
  GrpcReceiveTrailingMetadata: 5,
} as const;
export const maxMapType = 7;

export const StreamType = { HttpRequest: 0, HttpResponse: 1, Downstream: 2, Upstream: 3 } as const;
export const maxStreamType = 3;

export const PeerType = { Unknown: 0, Local: 1, Remote: 2 } as const;
export type PeerTypeCode = (typeof PeerType)[keyof typeof PeerType];

export const logLevelNames = ['trace', 'debug', 'info', 'warn', 'error', 'critical'] as const;
export type LogLevelName = (typeof logLevelNames)[number];

export const MetricType = { Counter: 0, Gauge: 1, Histogram: 2 } as const;

// WASI errno values cpp-host returns.
export const WasiErrno = { Success: 0, BadFileDescriptor: 8, Fault: 21, NoSys: 52, NotSupported: 58 } as const;

export type ValueType = 'i32' | 'i64' | 'f32' | 'f64' | 'v128' | 'funcref' | 'externref';
export interface FunctionSignature {
  params: readonly ValueType[];
  results: readonly ValueType[];
}

function sig(params: number | readonly ValueType[], results: readonly ValueType[] = ['i32']): FunctionSignature {
  const list: ValueType[] = typeof params === 'number' ? Array.from({ length: params }, () => 'i32') : [...params];
  return { params: list, results };
}

// Host functions Envoy registers in module `env` for ABI 0.2.x modules (cpp-host FOR_ALL_HOST_FUNCTIONS
// plus the 0.2.x ABI-specific ones). A module importing anything else fails to load.
export const proxyHostSignatures: Readonly<Record<string, FunctionSignature>> = {
  proxy_log: sig(3),
  proxy_get_log_level: sig(1),
  proxy_get_status: sig(3),
  proxy_set_property: sig(4),
  proxy_get_property: sig(4),
  proxy_send_local_response: sig(8),
  proxy_get_shared_data: sig(5),
  proxy_set_shared_data: sig(5),
  proxy_register_shared_queue: sig(3),
  proxy_resolve_shared_queue: sig(5),
  proxy_dequeue_shared_queue: sig(3),
  proxy_enqueue_shared_queue: sig(3),
  proxy_get_header_map_value: sig(5),
  proxy_add_header_map_value: sig(5),
  proxy_replace_header_map_value: sig(5),
  proxy_remove_header_map_value: sig(3),
  proxy_get_header_map_pairs: sig(3),
  proxy_set_header_map_pairs: sig(3),
  proxy_get_header_map_size: sig(2),
  proxy_get_buffer_status: sig(3),
  proxy_get_buffer_bytes: sig(5),
  proxy_set_buffer_bytes: sig(5),
  proxy_http_call: sig(10),
  proxy_grpc_call: sig(12),
  proxy_grpc_stream: sig(9),
  proxy_grpc_close: sig(1),
  proxy_grpc_cancel: sig(1),
  proxy_grpc_send: sig(4),
  proxy_set_tick_period_milliseconds: sig(1),
  proxy_get_current_time_nanoseconds: sig(1),
  proxy_define_metric: sig(4),
  proxy_increment_metric: sig(['i32', 'i64']),
  proxy_record_metric: sig(['i32', 'i64']),
  proxy_get_metric: sig(2),
  proxy_set_effective_context: sig(1),
  proxy_done: sig(0),
  proxy_call_foreign_function: sig(6),
  proxy_continue_stream: sig(1),
  proxy_close_stream: sig(1),
};

// WASI functions cpp-host provides under both `wasi_snapshot_preview1` and `wasi_unstable`.
export const wasiModuleNames = ['wasi_snapshot_preview1', 'wasi_unstable'] as const;
export const wasiSignatures: Readonly<Record<string, FunctionSignature>> = {
  fd_write: sig(4),
  fd_read: sig(4),
  fd_seek: sig(['i32', 'i64', 'i32', 'i32']),
  fd_close: sig(1),
  fd_fdstat_get: sig(2),
  environ_get: sig(2),
  environ_sizes_get: sig(2),
  args_get: sig(2),
  args_sizes_get: sig(2),
  clock_time_get: sig(['i32', 'i64', 'i32']),
  random_get: sig(2),
  proc_exit: sig(1, []),
  path_open: sig(['i32', 'i32', 'i32', 'i32', 'i32', 'i64', 'i64', 'i32', 'i32']),
  fd_prestat_get: sig(2),
  fd_prestat_dir_name: sig(3),
};

// Callbacks (module exports) the host calls, with the signature cpp-host insists on.
export const callbackSignatures = {
  proxy_on_memory_allocate: sig(1),
  malloc: sig(1),
  _initialize: sig(0, []),
  _start: sig(0, []),
  main: sig(2),
  proxy_on_context_create: sig(2, []),
  proxy_on_vm_start: sig(2),
  proxy_on_configure: sig(2),
  proxy_on_new_connection: sig(1),
  proxy_on_downstream_data: sig(3),
  proxy_on_upstream_data: sig(3),
  proxy_on_downstream_connection_close: sig(2, []),
  proxy_on_upstream_connection_close: sig(2, []),
  proxy_on_done: sig(1),
  proxy_on_log: sig(1, []),
  proxy_on_delete: sig(1, []),
  proxy_on_tick: sig(1, []),
  proxy_on_queue_ready: sig(2, []),
  proxy_on_grpc_receive_initial_metadata: sig(3, []),
  proxy_on_grpc_receive: sig(3, []),
  proxy_on_grpc_receive_trailing_metadata: sig(3, []),
  proxy_on_grpc_close: sig(3, []),
  proxy_on_http_call_response: sig(5, []),
  proxy_on_foreign_function: sig(3, []),
} as const satisfies Record<string, FunctionSignature>;
export type CallbackName = keyof typeof callbackSignatures;

export const abiVersionExports = ['proxy_abi_version_0_2_1', 'proxy_abi_version_0_2_0'] as const;
export const unsupportedAbiVersionExports = ['proxy_abi_version_0_1_0'] as const;

export function sameSignature(a: FunctionSignature, b: FunctionSignature): boolean {
  return (
    a.params.length === b.params.length &&
    a.results.length === b.results.length &&
    a.params.every((type, index) => type === b.params[index]) &&
    a.results.every((type, index) => type === b.results[index])
  );
}

export function formatSignature(signature: FunctionSignature): string {
  return `(${signature.params.join(', ')}) -> (${signature.results.join(', ')})`;
}
