// Public surface of the Proxy-Wasm test host: load a filter, open connections, drive bytes, read
// records. See docs/wasm-test-host.md for usage and for where the host knowingly differs from Envoy.
export { loadFilter, FilterVm } from './filter-vm.ts';
export type { FailurePolicy, LoadFilterOptions, OpenConnectionOptions, ReloadStats } from './filter-vm.ts';
export { HostConnection } from './host-connection.ts';
export type { CloseReason, ConnectionClose, SendOptions } from './host-connection.ts';
export { FilterLoadError } from './vm-instance.ts';
export type { LoadStage } from './vm-instance.ts';
export { HostProcess } from './host-process.ts';
export { chunk, everySplit, describeChunking } from './chunking.ts';
export type { Chunking } from './chunking.ts';
export { lineResponder, echoUpstream, silentUpstream } from './fake-upstream.ts';
export type { FakeUpstream, UpstreamPeer } from './fake-upstream.ts';
export { countHostCalls } from './call-records.ts';
export type { CallbackRecord, HostCallRecord, LogRecord, TrapRecord } from './call-records.ts';
export type { GrpcExchange, GrpcFakeOptions, GrpcServerSide } from './grpc-fake.ts';
export type { MetricValue } from './metrics.ts';
export { encodePairs, decodePairs } from './serialized-map.ts';
export type { Pairs } from './serialized-map.ts';
export type { Endpoint, PropertyValue } from './properties.ts';
export { toBytes, toLatin1 } from './envoy-buffer.ts';
