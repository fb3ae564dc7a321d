// Optional trace of every op the op loop applies, one `weir-op` log line each, for
// `weir parser test` and for debugging in Envoy (`--component-log-level wasm:trace`). Whether to
// trace is read from the host's log level when the plugin is configured, so the hot path pays
// one flag test per op when tracing is off.
import { ByteBuffer } from '../bytes/byte-buffer';
import { Direction } from './connection';
import { OpKind } from './ops';
import { LogLevel, proxy_log } from '../abi/imports';
import { hostLogLevel } from '../abi/host';

export const OP_TRACE_PREFIX = 'weir-op ';

let tracing = false;
const line = new ByteBuffer();

// Called from proxy_on_configure: trace when the host logs at trace level.
export function refreshOpTracing(): void {
  tracing = hostLogLevel(<u32>LogLevel.Critical) == <u32>LogLevel.Trace; // unknown: no tracing
}

export function isTracingOps(): bool {
  return tracing;
}

// "weir-op <connection> request|reply <OP> <count> buffered=<n>"
export function traceOp(connectionId: u64, direction: Direction, kind: u32, count: u32, buffered: usize): void {
  line.clear();
  line.appendAscii(OP_TRACE_PREFIX);
  line.appendDecimal(connectionId);
  line.appendAscii(direction == Direction.Request ? ' request ' : ' reply ');
  line.appendAscii(opName(kind));
  line.appendByte(0x20);
  line.appendDecimal(<u64>count);
  line.appendAscii(' buffered=');
  line.appendDecimal(<u64>buffered);
  proxy_log(LogLevel.Trace, line.readPtr, line.length);
}

function opName(kind: u32): string {
  if (kind == OpKind.More) return 'MORE';
  if (kind == OpKind.Pass) return 'PASS';
  if (kind == OpKind.Drop) return 'DROP';
  if (kind == OpKind.Inject) return 'INJECT';
  if (kind == OpKind.Error) return 'ERROR';
  if (kind == OpKind.Nop) return 'NOP';
  return 'UNKNOWN';
}
