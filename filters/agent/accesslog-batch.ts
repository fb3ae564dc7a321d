// The access-log messages of weir.AccessLogService (protos/weir/accesslog.proto) as far as the agent
// needs them: AccessLogBatch out (node, run, first sequence, entries carrying the parser's JSON,
// drop counters) and AccessLogAck in (acked_sequence). Wire format only; when to send is
// accesslog-shipper.ts.
import { ProtoReader, ProtoWriter } from './protobuf';

const enum BatchField {
  NodeId = 1,
  AgentRun = 2,
  FirstSequence = 3,
  Entries = 4,
  Drops = 5,
}

const enum EntryField {
  ParserJson = 14,
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
  private entry: ProtoWriter = new ProtoWriter();

  begin(nodeId: string, agentRun: u64, firstSequence: u64): void {
    this.batch.buffer.clear();
    this.batch.stringField(BatchField.NodeId, nodeId);
    this.batch.varintField(BatchField.AgentRun, agentRun);
    this.batch.varintField(BatchField.FirstSequence, firstSequence);
  }

  // One AccessLogEntry carrying the parser's JSON object as parser_json.
  addEntry(json: ArrayBuffer): void {
    this.entry.buffer.clear();
    this.entry.bytesField(EntryField.ParserJson, changetype<usize>(json), <usize>json.byteLength);
    this.batch.messageField(BatchField.Entries, this.entry);
  }

  finish(drops: DropCounts): ProtoWriter {
    this.entry.buffer.clear();
    this.entry.varintField(DropsField.Queue, drops.queue);
    this.entry.varintField(DropsField.Buffer, drops.buffer);
    this.entry.varintField(DropsField.Malformed, drops.malformed);
    this.batch.messageField(BatchField.Drops, this.entry);
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
