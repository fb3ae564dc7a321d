// The Proxy-Wasm gRPC host calls the agent uses (proxy-wasm ABI 0.2.1 as Envoy provides them), and
// typed wrappers: open a stream to a cluster, send a message, read the received message and the
// close status. Declared here rather than in the SDK's abi/ because only the agent makes gRPC calls.
import { ByteBuffer } from '../sdk/bytes/byte-buffer';
import { BufferType, Status } from '../sdk/abi/imports';
import { appendHostBuffer } from '../sdk/abi/host';
import { ProtoWriter } from '../sdk/bytes/protobuf';

@external("env", "proxy_grpc_stream")
declare function proxy_grpc_stream(upstreamPtr: usize, upstreamLen: usize, servicePtr: usize, serviceLen: usize, methodPtr: usize, methodLen: usize, metadataPtr: usize, metadataLen: usize, tokenPtr: usize): u32;

@external("env", "proxy_grpc_send")
declare function proxy_grpc_send(token: u32, messagePtr: usize, messageLen: usize, endStream: u32): u32;

@external("env", "proxy_grpc_cancel")
declare function proxy_grpc_cancel(token: u32): u32;

@external("env", "proxy_get_status")
declare function proxy_get_status(codePtr: usize, messagePtrPtr: usize, messageLenPtr: usize): u32;

const GRPC_CALL_MESSAGE: u32 = 5;
const slots: usize = memory.data(24);

// Opens a bidirectional stream to `cluster`; the token, or 0 when Envoy refused (unknown cluster).
export function openGrpcStream(cluster: string, service: string, method: string): u32 {
  const upstream = grpcServiceFor(cluster);
  const serviceBytes = String.UTF8.encode(service);
  const methodBytes = String.UTF8.encode(method);
  store<u32>(slots, 0);
  const status = proxy_grpc_stream(
    upstream.buffer.readPtr, upstream.buffer.length,
    changetype<usize>(serviceBytes), <usize>serviceBytes.byteLength,
    changetype<usize>(methodBytes), <usize>methodBytes.byteLength,
    0, 0, slots,
  );
  upstream.release();
  if (status != Status.Ok) return 0;
  return load<u32>(slots);
}

export function sendGrpcMessage(token: u32, message: ProtoWriter): bool {
  return proxy_grpc_send(token, message.buffer.readPtr, message.buffer.length, 0) == Status.Ok;
}

export function cancelGrpcStream(token: u32): void {
  proxy_grpc_cancel(token);
}

// Appends the message being delivered to proxy_on_grpc_receive to `target`.
export function readGrpcMessage(size: u32, target: ByteBuffer): bool {
  return appendHostBuffer(<BufferType>GRPC_CALL_MESSAGE, size, target);
}

// The status message of the stream being closed in proxy_on_grpc_close ('' when none).
export function grpcCloseMessage(): string {
  store<usize>(slots + 8, 0);
  store<usize>(slots + 16, 0);
  if (proxy_get_status(slots, slots + 8, slots + 16) != Status.Ok) return '';
  const pointer = load<usize>(slots + 8);
  const size = load<usize>(slots + 16);
  if (pointer == 0) return '';
  const text = String.UTF8.decodeUnsafe(pointer, size);
  heap.free(pointer);
  return text;
}

// A serialized envoy.config.core.v3.GrpcService{envoy_grpc{cluster_name}}: Envoy then uses its own
// gRPC client on that cluster (a bare cluster name would be tried as a message first).
function grpcServiceFor(cluster: string): ProtoWriter {
  const envoyGrpc = new ProtoWriter();
  envoyGrpc.stringField(1, cluster);
  const service = new ProtoWriter();
  service.messageField(1, envoyGrpc);
  envoyGrpc.release();
  return service;
}
