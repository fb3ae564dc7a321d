// The access-log messages of weir.AccessLogService (protos/weir/accesslog.proto) as far as the agent
// needs them: AccessLogBatch out (node, run, first sequence, the entries as parser VMs encoded
// them, drop counters) and AccessLogAck in (acked_sequence). Wire format only; when to send is
// accesslog-shipper.ts.
import { ProtoReader, ProtoWriter } from '../sdk/bytes/protobuf';

const enum BatchField {
  NodeId = 1,
  AgentRun = 2,
  FirstSequence = 3,
  Entries = 4,
  Drops = 5,
}

const enum DropsField {
  Queue = 1,
  Buffer = 2,
  Malformed = 3,
}

const ACK_SEQUENCE_FIELD: u32 = 1;

export class DropCounts {
  queue: u64 = 0;
  buffer: u64 = 0;
  malformed: u64 = 0;
}

// Builds one AccessLogBatch in `batch` (cleared first); entries are added with addEntry.
export class BatchWriter {
  readonly batch: ProtoWriter = new ProtoWriter();
  private drops: ProtoWriter = new ProtoWriter();

  begin(nodeId: string, agentRun: u64, firstSequence: u64): void {
    this.batch.buffer.clear();
    this.batch.stringField(BatchField.NodeId, nodeId);
    this.batch.varintField(BatchField.AgentRun, agentRun);
    this.batch.varintField(BatchField.FirstSequence, firstSequence);
  }

  // One AccessLogEntry, encoded by the parser VM that logged it (filters/sdk/access-log/
  // entry-protobuf.ts): the agent adds nothing to an entry.
  addEntry(entry: ArrayBuffer): void {
    this.batch.bytesField(BatchField.Entries, changetype<usize>(entry), <usize>entry.byteLength);
  }

  finish(drops: DropCounts): ProtoWriter {
    this.drops.buffer.clear();
    this.drops.varintField(DropsField.Queue, drops.queue);
    this.drops.varintField(DropsField.Buffer, drops.buffer);
    this.drops.varintField(DropsField.Malformed, drops.malformed);
    this.batch.messageField(BatchField.Drops, this.drops);
    return this.batch;
  }
}

// AccessLogAck.acked_sequence, or -1 when the message is malformed.
export function decodeAckedSequence(pointer: usize, length: i32): i64 {
  const reader = new ProtoReader(pointer, length);
  let acked: i64 = 0;
  while (reader.next()) {
    if (reader.field == ACK_SEQUENCE_FIELD && reader.wireType == 0) acked = <i64>reader.varint;
  }
  return reader.failed ? -1 : acked;
}
