// The `env` host functions of Proxy-Wasm 0.2.x with Envoy 1.40's observable behaviour: argument
// checks, status codes, and which return slots are written. Each function reads and writes guest
// memory and delegates state to the backend (vm-instance.ts), which knows contexts, buffers and time.
import { maxBufferType, maxMapType, maxStreamType, Status, type StatusCode, proxyHostSignatures } from './abi.ts';
import type { EnvoyBuffer } from './envoy-buffer.ts';
import type { GrpcFake, GrpcTarget } from './grpc-fake.ts';
import { clusterFromGrpcUpstream } from './grpc-fake.ts';
import type { GuestMemory } from './guest-memory.ts';
import type { MetricRegistry } from './metrics.ts';
import { pathFromWire } from './properties.ts';
import { decodePairs, encodePairs, type Pairs } from './serialized-map.ts';
import type { SharedData } from './shared-data.ts';
import type { SharedQueues } from './shared-queues.ts';

export type HostFunction = (...args: Array<number | bigint>) => number;

export interface ProxyHostBackend {
  readonly vmId: string;
  readonly logLevel: number;
  readonly sharedData: SharedData;
  readonly sharedQueues: SharedQueues;
  readonly metrics: MetricRegistry;
  readonly grpc: GrpcFake;
  memory(): GuestMemory;
  log(level: number, message: string): void;
  // The buffer a call on the active context sees; undefined = NOT_FOUND.
  buffer(type: number): EnvoyBuffer | undefined;
  property(path: string): Uint8Array | undefined;
  setProperty(path: string, value: Uint8Array): StatusCode;
  continueStream(streamType: number): StatusCode;
  closeStream(streamType: number): StatusCode;
  setEffectiveContext(contextId: number): boolean;
  setTickPeriod(milliseconds: number): void;
  nowNanoseconds(): bigint;
  registerQueue(name: string): number;
  grpcStatus(): { code: number; message: Uint8Array };
  grpcMetadata(mapType: number): Pairs | undefined;
}

function u32(value: number | bigint): number {
  return Number(BigInt.asUintN(32, BigInt(value)));
}

export function createProxyHostFunctions(host: ProxyHostBackend): Record<string, HostFunction> {
  const read = (pointer: number | bigint, length: number | bigint): Uint8Array | undefined =>
    host.memory().read(u32(pointer), u32(length));
  const text = (bytes: Uint8Array): string => new TextDecoder().decode(bytes);
  const copyOut = (data: Uint8Array, pointerSlot: number | bigint, sizeSlot: number | bigint): StatusCode =>
    host.memory().copyOut(data, u32(pointerSlot), u32(sizeSlot)) ? Status.Ok : Status.InvalidMemoryAccess;
  const writeU32 = (slot: number | bigint, value: number): StatusCode =>
    host.memory().writeU32(u32(slot), value) ? Status.Ok : Status.InvalidMemoryAccess;

  const functions: Record<string, HostFunction> = {
    proxy_log(level, pointer, size) {
      if (u32(level) > 5) return Status.BadArgument;
      const message = read(pointer, size);
      if (message === undefined) return Status.InvalidMemoryAccess;
      host.log(u32(level), text(message));
      return Status.Ok;
    },
    proxy_get_log_level(slot) {
      return writeU32(slot, host.logLevel);
    },
    proxy_get_buffer_status(type, lengthSlot, flagsSlot) {
      if (u32(type) > maxBufferType) return Status.BadArgument;
      const buffer = host.buffer(u32(type));
      if (buffer === undefined) return Status.NotFound;
      if (writeU32(lengthSlot, buffer.length) !== Status.Ok) return Status.InvalidMemoryAccess;
      return writeU32(flagsSlot, 0);
    },
    proxy_get_buffer_bytes(type, start, maxSize, pointerSlot, sizeSlot) {
      if (u32(type) > maxBufferType) return Status.BadArgument;
      const buffer = host.buffer(u32(type));
      if (buffer === undefined) return Status.NotFound;
      const bytes = buffer.slice(u32(start), u32(maxSize));
      // cpp-host leaves both return slots untouched when nothing is copied.
      if (bytes.length === 0) return Status.Ok;
      return copyOut(bytes, pointerSlot, sizeSlot);
    },
    proxy_set_buffer_bytes(type, start, size, pointer, length) {
      if (u32(type) > maxBufferType) return Status.BadArgument;
      const buffer = host.buffer(u32(type));
      if (buffer === undefined) return Status.NotFound;
      const value = read(pointer, length);
      if (value === undefined) return Status.InvalidMemoryAccess;
      return buffer.copyFrom(u32(start), u32(size), value);
    },
    proxy_get_property(pathPointer, pathSize, pointerSlot, sizeSlot) {
      const path = read(pathPointer, pathSize);
      if (path === undefined) return Status.InvalidMemoryAccess;
      const value = host.property(pathFromWire(path));
      if (value === undefined) return Status.NotFound;
      return copyOut(value, pointerSlot, sizeSlot);
    },
    proxy_set_property(pathPointer, pathSize, valuePointer, valueSize) {
      const path = read(pathPointer, pathSize);
      const value = read(valuePointer, valueSize);
      if (path === undefined || value === undefined) return Status.InvalidMemoryAccess;
      return host.setProperty(pathFromWire(path), value);
    },
    proxy_continue_stream(streamType) {
      if (u32(streamType) > maxStreamType) return Status.BadArgument;
      return host.continueStream(u32(streamType));
    },
    proxy_close_stream(streamType) {
      if (u32(streamType) > maxStreamType) return Status.BadArgument;
      return host.closeStream(u32(streamType));
    },
    proxy_send_local_response(_code, detailsPointer, detailsSize, bodyPointer, bodySize, headersPointer, headersSize) {
      // HTTP only: on a network filter Envoy reads the arguments and does nothing else.
      if (read(detailsPointer, detailsSize) === undefined) return Status.InvalidMemoryAccess;
      if (read(bodyPointer, bodySize) === undefined) return Status.InvalidMemoryAccess;
      if (read(headersPointer, headersSize) === undefined) return Status.InvalidMemoryAccess;
      return Status.Ok;
    },
    proxy_done() {
      // Envoy only accepts proxy_done for root contexts it is shutting down; none are here.
      return Status.NotFound;
    },
    proxy_set_effective_context(contextId) {
      return host.setEffectiveContext(u32(contextId)) ? Status.Ok : Status.BadArgument;
    },
    proxy_set_tick_period_milliseconds(period) {
      host.setTickPeriod(u32(period));
      return Status.Ok;
    },
    proxy_get_current_time_nanoseconds(slot) {
      return host.memory().writeU64(u32(slot), host.nowNanoseconds()) ? Status.Ok : Status.InvalidMemoryAccess;
    },
    proxy_get_shared_data(keyPointer, keySize, pointerSlot, sizeSlot, casSlot) {
      const key = read(keyPointer, keySize);
      if (key === undefined) return Status.InvalidMemoryAccess;
      const entry = host.sharedData.get(host.vmId, text(key));
      if (entry === undefined) return Status.NotFound;
      if (copyOut(entry.value, pointerSlot, sizeSlot) !== Status.Ok) return Status.InvalidMemoryAccess;
      return writeU32(casSlot, entry.cas);
    },
    proxy_set_shared_data(keyPointer, keySize, valuePointer, valueSize, cas) {
      const key = read(keyPointer, keySize);
      const value = read(valuePointer, valueSize);
      if (key === undefined || value === undefined) return Status.InvalidMemoryAccess;
      return host.sharedData.set(host.vmId, text(key), value, u32(cas));
    },
    proxy_register_shared_queue(namePointer, nameSize, tokenSlot) {
      const name = read(namePointer, nameSize);
      if (name === undefined) return Status.InvalidMemoryAccess;
      return writeU32(tokenSlot, host.registerQueue(text(name)));
    },
    proxy_resolve_shared_queue(vmIdPointer, vmIdSize, namePointer, nameSize, tokenSlot) {
      const vmId = read(vmIdPointer, vmIdSize);
      const name = read(namePointer, nameSize);
      if (vmId === undefined || name === undefined) return Status.InvalidMemoryAccess;
      const token = host.sharedQueues.resolve(vmId.length === 0 ? host.vmId : text(vmId), text(name));
      if (token === undefined) return Status.NotFound;
      return writeU32(tokenSlot, token);
    },
    proxy_enqueue_shared_queue(token, pointer, size) {
      const value = read(pointer, size);
      if (value === undefined) return Status.InvalidMemoryAccess;
      return host.sharedQueues.enqueue(u32(token), value);
    },
    proxy_dequeue_shared_queue(token, pointerSlot, sizeSlot) {
      const result = host.sharedQueues.dequeue(u32(token));
      if (result.value === undefined) return result.status;
      return copyOut(result.value, pointerSlot, sizeSlot);
    },
    proxy_define_metric(type, namePointer, nameSize, idSlot) {
      const name = read(namePointer, nameSize);
      if (name === undefined) return Status.InvalidMemoryAccess;
      const result = host.metrics.define(u32(type), text(name));
      if (result.id === undefined) return result.status;
      return writeU32(idSlot, result.id);
    },
    proxy_increment_metric(id, offset) {
      return host.metrics.increment(u32(id), BigInt.asIntN(64, BigInt(offset)));
    },
    proxy_record_metric(id, value) {
      return host.metrics.record(u32(id), BigInt(value));
    },
    proxy_get_metric(id, slot) {
      const result = host.metrics.read(u32(id));
      if (result.value === undefined) return result.status;
      return host.memory().writeU64(u32(slot), result.value) ? Status.Ok : Status.InvalidMemoryAccess;
    },
    proxy_grpc_call(...args) {
      const target = readGrpcTarget(args.slice(0, 8));
      const request = read(args[8] ?? 0, args[9] ?? 0);
      if (target === undefined || request === undefined) return Status.InvalidMemoryAccess;
      const opened = host.grpc.open('call', target, request);
      if (opened.token === undefined) return opened.status;
      return writeU32(args[11] ?? 0, opened.token);
    },
    proxy_grpc_stream(...args) {
      const target = readGrpcTarget(args.slice(0, 8));
      if (target === undefined) return Status.InvalidMemoryAccess;
      const opened = host.grpc.open('stream', target);
      if (opened.token === undefined) return opened.status;
      return writeU32(args[8] ?? 0, opened.token);
    },
    proxy_grpc_send(token, pointer, size, endStream) {
      const message = read(pointer, size);
      if (message === undefined) return Status.InvalidMemoryAccess;
      return host.grpc.send(u32(token), message, u32(endStream) !== 0);
    },
    proxy_grpc_close(token) {
      return host.grpc.closeLocal(u32(token));
    },
    proxy_grpc_cancel(token) {
      return host.grpc.cancel(u32(token));
    },
    proxy_get_status(codeSlot, pointerSlot, sizeSlot) {
      const status = host.grpcStatus();
      if (writeU32(codeSlot, status.code) !== Status.Ok) return Status.InvalidMemoryAccess;
      return copyOut(status.message, pointerSlot, sizeSlot);
    },
    proxy_get_header_map_pairs(type, pointerSlot, sizeSlot) {
      if (u32(type) > maxMapType) return Status.BadArgument;
      const pairs = host.grpcMetadata(u32(type));
      if (pairs === undefined) return Status.BadArgument;
      return copyOut(pairs.length === 0 ? new Uint8Array(0) : encodePairs(pairs), pointerSlot, sizeSlot);
    },
    proxy_get_header_map_value(type, keyPointer, keySize, pointerSlot, sizeSlot) {
      if (u32(type) > maxMapType) return Status.BadArgument;
      const key = read(keyPointer, keySize);
      if (key === undefined) return Status.InvalidMemoryAccess;
      const pairs = host.grpcMetadata(u32(type));
      if (pairs === undefined) return Status.BadArgument;
      const wanted = text(key).toLowerCase();
      const found = pairs.find(([name]) => name.toLowerCase() === wanted);
      if (found === undefined) return Status.NotFound;
      return copyOut(new TextEncoder().encode(found[1]), pointerSlot, sizeSlot);
    },
    proxy_get_header_map_size(type, slot) {
      if (u32(type) > maxMapType) return Status.BadArgument;
      const pairs = host.grpcMetadata(u32(type));
      if (pairs === undefined) return Status.BadArgument;
      return writeU32(slot, pairs.length === 0 ? 0 : encodePairs(pairs).length);
    },
    // No header map of a network filter is writable (Envoy: no map -> BAD_ARGUMENT).
    proxy_add_header_map_value: () => Status.BadArgument,
    proxy_replace_header_map_value: () => Status.BadArgument,
    proxy_remove_header_map_value: () => Status.BadArgument,
    proxy_set_header_map_pairs: () => Status.BadArgument,
    proxy_http_call(_uriPointer, _uriSize, headersPointer, headersSize, _bodyPointer, _bodySize, _tp, _ts, _timeout, tokenSlot) {
      // The test host knows no HTTP clusters: Envoy answers BAD_ARGUMENT for an unknown cluster.
      if (read(headersPointer, headersSize) === undefined) return Status.InvalidMemoryAccess;
      if (writeU32(tokenSlot, 0) !== Status.Ok) return Status.InvalidMemoryAccess;
      return Status.BadArgument;
    },
    proxy_call_foreign_function(namePointer, nameSize, argsPointer, argsSize) {
      // No foreign functions are registered in the test host.
      if (read(namePointer, nameSize) === undefined || read(argsPointer, argsSize) === undefined) {
        return Status.InvalidMemoryAccess;
      }
      return Status.NotFound;
    },
  };

  function readGrpcTarget(args: Array<number | bigint>): GrpcTarget | undefined {
    const [upPtr = 0, upLen = 0, servicePtr = 0, serviceLen = 0, methodPtr = 0, methodLen = 0, mdPtr = 0, mdLen = 0] = args;
    const upstream = read(upPtr, upLen);
    const service = read(servicePtr, serviceLen);
    const method = read(methodPtr, methodLen);
    const metadata = read(mdPtr, mdLen);
    if (upstream === undefined || service === undefined || method === undefined || metadata === undefined) return undefined;
    return {
      upstream,
      cluster: clusterFromGrpcUpstream(upstream),
      service: text(service),
      method: text(method),
      initialMetadata: decodePairs(metadata),
    };
  }

  for (const name of Object.keys(proxyHostSignatures)) {
    if (functions[name] === undefined) throw new Error(`host-functions.ts: no implementation for ${name}`);
  }
  return functions;
}
