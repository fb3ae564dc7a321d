// The names and framing of the access-log shared queue that parser VMs (access-log-queue.ts) and
// the Weir agent (filters/agent/accesslog-shipper.ts) agree on; docs/accesslog.md. Imports
// nothing, so either side can use it without changing its module order.

export const ACCESS_LOG_VM_ID = 'weir';
export const ACCESS_LOG_QUEUE = 'weir/accesslog';
// Shared-data counter (8 bytes little-endian) of entries parser VMs could not enqueue.
export const ACCESS_LOG_DROPPED_KEY = 'weir/accesslog/dropped';
// A queue message is one or more entries, each an encoded weir.AccessLogEntry
// (protos/weir/accesslog.proto) after its length in bytes as a u32, little-endian.
export const ENTRY_LENGTH_BYTES: usize = 4;
