// What the host records while a filter runs, so tests can assert on behaviour: each callback it
// invoked (with the host calls made inside it), each log line, each trap. Plain data, no behaviour.
import type { CallbackName, LogLevelName } from './abi.ts';

export interface HostCallRecord {
  name: string; // e.g. "proxy_set_buffer_bytes"
  args: Array<number | bigint>; // as the module passed them (pointers unsigned)
  status: number | undefined; // the proxy_status_t / WASI errno returned, undefined for void
}

export interface CallbackRecord {
  callback: CallbackName;
  contextId: number;
  args: number[];
  result: number | undefined; // undefined for void callbacks and traps
  trap: string | undefined; // the RuntimeError message when the callback trapped
  hostCalls: HostCallRecord[];
  vmGeneration: number; // which VM instance ran it (changes on FAIL_RELOAD)
}

export interface LogRecord {
  level: LogLevelName;
  message: string;
  contextId: number; // 0 = VM context (e.g. _initialize), root id, or a connection's context id
  callback: CallbackName | undefined;
  source: 'filter' | 'host'; // host = lines Envoy itself would log (traps, proc_exit, ...)
}

export interface TrapRecord {
  callback: CallbackName;
  contextId: number;
  message: string;
  stack: string | undefined;
  vmGeneration: number;
}

export function countHostCalls(record: CallbackRecord, name: string): number {
  return record.hostCalls.filter((call) => call.name === name).length;
}
