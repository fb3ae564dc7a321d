// Topic id -> topic name, learned from the Metadata responses the filter forwards. Requests of
// Kafka 3.x/4.x clients name topics by id (Fetch v13+, Produce v13, OffsetCommit v10, ...), and
// policy speaks of names, so the filter can only decide about an id it has seen named. A client
// may fetch over a different connection (and an Envoy worker thread, with its own VM) than the one
// that carried its Metadata, so every learned pair is also written to Wasm shared data (shared by
// all VMs of the plugin's vm_id) and read from there on a local miss. Only broker responses write
// here: a client cannot teach the filter a name.
import { ByteView } from '../../sdk/index';
import { readSharedData, writeSharedData } from '../../sdk/policy-shared-data';

const SHARED_KEY_PREFIX = 'weir-kafka/topic-id/';
const HEX_DIGITS = '0123456789abcdef';
// Bounds the VM-local cache (shared data keeps every id; a miss reads it from there).
const MAX_LOCAL_IDS: i32 = 65536;

export class TopicIds {
  private names: Map<string, ArrayBuffer> = new Map<string, ArrayBuffer>();

  // Records that topic id (16 bytes at `idOffset`) names the topic at [nameOffset, +nameLength).
  learn(view: ByteView, idOffset: i32, nameOffset: i32, nameLength: i32): void {
    if (!view.has(idOffset, 16) || !view.has(nameOffset, nameLength) || isZeroId(view, idOffset)) return;
    const key = idKey(view, idOffset);
    if (this.names.has(key) && sameBytes(this.names.get(key), view, nameOffset, nameLength)) return;
    const name = new Uint8Array(nameLength);
    for (let i = 0; i < nameLength; i++) name[i] = <u8>view.byteAt(nameOffset + i);
    if (this.names.size >= MAX_LOCAL_IDS) this.names.clear();
    this.names.set(key, name.buffer);
    writeSharedData(SHARED_KEY_PREFIX + key, name.buffer);
  }

  // The name of the topic id at `idOffset`, or null when no broker response named it.
  nameOf(view: ByteView, idOffset: i32): ArrayBuffer | null {
    if (!view.has(idOffset, 16) || isZeroId(view, idOffset)) return null;
    const key = idKey(view, idOffset);
    if (this.names.has(key)) return this.names.get(key);
    const shared = readSharedData(SHARED_KEY_PREFIX + key);
    if (shared === null || shared.byteLength == 0) return null;
    if (this.names.size >= MAX_LOCAL_IDS) this.names.clear();
    this.names.set(key, shared);
    return shared;
  }
}

// The id as 32 lower-case hex digits (allocates; only when a topic id is named or resolved).
export function idKey(view: ByteView, offset: i32): string {
  let key = '';
  for (let i = 0; i < 16; i++) {
    const byte = view.byteAt(offset + i);
    key += HEX_DIGITS.charAt((byte >> 4) & 0xf) + HEX_DIGITS.charAt(byte & 0xf);
  }
  return key;
}

function isZeroId(view: ByteView, offset: i32): bool {
  for (let i = 0; i < 16; i++) if (view.byteAt(offset + i) != 0) return false;
  return true;
}

function sameBytes(buffer: ArrayBuffer, view: ByteView, offset: i32, length: i32): bool {
  if (buffer.byteLength != length) return false;
  const bytes = Uint8Array.wrap(buffer);
  for (let i = 0; i < length; i++) if (<i32>bytes[i] != view.byteAt(offset + i)) return false;
  return true;
}
