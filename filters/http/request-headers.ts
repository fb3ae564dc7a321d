// One request's headers as Envoy's HTTP connection manager hands them to the filter, read with one
// host call (all pairs, Proxy-Wasm's serialized map) and turned into the request record the rules
// match: `:method`, `:path` and `:authority` for the method, path and host keys, and each header a
// policy names. Several values of one header are joined with `,`, as Envoy joins them before its
// own header matchers (Cilium's semantics): `X-Token: 1` plus `X-Token: 2` is `1,2`, which an
// exact `1` does not match. Envoy has already lowercased header names (HTTP/1 codec) or refused
// uppercase ones (HTTP/2), so names compare byte for byte. Nothing here allocates per request
// once the buffers have grown to the largest request seen.
import { ByteBuffer } from '../sdk/byte-buffer';
import { ByteView } from '../sdk/byte-view';
import { RequestRecord } from '../sdk/rules';
import { LogFields } from '../sdk/access-log';
import { MapType } from '../sdk/abi/imports';
import { readHostHeaderMap } from '../sdk/abi/host';
import { HttpKey, HttpRuleSchema } from './http-rule-schema';

// Room offered to the host for the serialized headers; a larger map costs one more copy.
const EXPECTED_HEADER_BYTES: usize = 4096;
const COMMA: u8 = 0x2c;

export class RequestHeaders {
  private pairs: ByteBuffer = new ByteBuffer();
  private joined: ByteBuffer = new ByteBuffer();
  private pairsView: ByteView = new ByteView();
  private joinedView: ByteView = new ByteView();
  private count: i32 = 0;
  // Where each pair's key and value start in `pairs` (offsets), and their lengths.
  private keyAt: StaticArray<i32> = new StaticArray<i32>(0);
  private keyLength: StaticArray<i32> = new StaticArray<i32>(0);
  private valueAt: StaticArray<i32> = new StaticArray<i32>(0);
  private valueLength: StaticArray<i32> = new StaticArray<i32>(0);
  // Pseudo-header pairs (-1: absent).
  private methodPair: i32 = -1;
  private pathPair: i32 = -1;
  private authorityPair: i32 = -1;

  // Reads the request headers of the running stream. False when Envoy has none or the map is
  // malformed (never expected from Envoy; the caller denies).
  read(): bool {
    this.count = 0;
    this.methodPair = -1;
    this.pathPair = -1;
    this.authorityPair = -1;
    if (!readHostHeaderMap(MapType.RequestHeaders, this.pairs, EXPECTED_HEADER_BYTES)) return false;
    const view = this.pairsView;
    view.setWindow(this.pairs.readPtr, <i32>this.pairs.length);
    return this.index(view);
  }

  // Fills `record` (sized for `schema`) with the method, path, host and every header key.
  fill(record: RequestRecord, schema: HttpRuleSchema): void {
    record.clear();
    const view = this.pairsView;
    if (this.methodPair >= 0) record.set(HttpKey.Method, view, this.valueAt[this.methodPair], this.valueLength[this.methodPair]);
    if (this.pathPair >= 0) record.set(HttpKey.Path, view, this.valueAt[this.pathPair], this.valueLength[this.pathPair]);
    if (this.authorityPair >= 0) record.set(HttpKey.Host, view, this.valueAt[this.authorityPair], this.valueLength[this.authorityPair]);
    const names = schema.headerNames;
    if (names.length == 0) return;
    // Joined values go to `joined`, reserved up front so that pointers into it stay valid.
    this.joined.clear();
    this.joined.reserve(this.pairs.length + <usize>names.length);
    const joinedBase = this.joined.readPtr;
    this.joinedView.setWindow(joinedBase, <i32>(this.pairs.length + <usize>names.length));
    for (let n = 0; n < names.length; n++) this.fillHeader(record, HttpKey.FirstHeader + n, names[n], joinedBase);
  }

  // Adds "method", "path" and "host" (empty when absent) to an access-log entry's fields.
  addLogFields(fields: LogFields): void {
    this.addPairValue(fields, 'method', this.methodPair);
    this.addPairValue(fields, 'path', this.pathPair);
    this.addPairValue(fields, 'host', this.authorityPair);
  }

  private addPairValue(fields: LogFields, key: string, pair: i32): void {
    if (pair < 0) fields.addString(key, '');
    else fields.addBytes(key, this.pairsView, this.valueAt[pair], this.valueLength[pair]);
  }

  private fillHeader(record: RequestRecord, key: i32, name: ArrayBuffer, joinedBase: usize): void {
    let first = -1;
    let more = false;
    for (let p = 0; p < this.count; p++) {
      if (!this.keyIs(p, name)) continue;
      if (first < 0) first = p;
      else more = true;
    }
    if (first < 0) return;
    if (!more) {
      record.set(key, this.pairsView, this.valueAt[first], this.valueLength[first]);
      return;
    }
    const start = <i32>(this.joined.readPtr + this.joined.length - joinedBase);
    for (let p = first; p < this.count; p++) {
      if (!this.keyIs(p, name)) continue;
      if (p != first) this.joined.appendByte(COMMA);
      this.joined.appendBytes(this.pairs.readPtr + <usize>this.valueAt[p], <usize>this.valueLength[p]);
    }
    const end = <i32>(this.joined.readPtr + this.joined.length - joinedBase);
    record.set(key, this.joinedView, start, end - start);
  }

  private keyIs(pair: i32, name: ArrayBuffer): bool {
    const length = this.keyLength[pair];
    if (length != name.byteLength) return false;
    return memory.compare(this.pairs.readPtr + <usize>this.keyAt[pair], changetype<usize>(name), <usize>length) == 0;
  }

  // Reads the serialized map: u32 count, count x (u32 key length, u32 value length), then each
  // key and value followed by a NUL byte (all little-endian).
  private index(view: ByteView): bool {
    const count = view.u32le(0);
    if (count < 0 || count > <i64>(view.length / 8)) return false;
    const pairs = <i32>count;
    this.ensureCapacity(pairs);
    let at = 4 + pairs * 8;
    for (let p = 0; p < pairs; p++) {
      const keyLength = view.u32le(4 + p * 8);
      const valueLength = view.u32le(8 + p * 8);
      // Each length is checked against the window before the sum, so nothing overflows.
      if (keyLength < 0 || valueLength < 0 || keyLength > <i64>view.length || valueLength > <i64>view.length) return false;
      if (!view.has(at, <i32>keyLength + <i32>valueLength + 2)) return false;
      this.keyAt[p] = at;
      this.keyLength[p] = <i32>keyLength;
      at += <i32>keyLength + 1;
      this.valueAt[p] = at;
      this.valueLength[p] = <i32>valueLength;
      at += <i32>valueLength + 1;
      this.notePseudoHeader(view, p);
    }
    this.count = pairs;
    return true;
  }

  private notePseudoHeader(view: ByteView, pair: i32): void {
    const at = this.keyAt[pair];
    if (view.byteAt(at) != 0x3a) return; // ':'
    const length = this.keyLength[pair];
    if (view.equalsAscii(at, length, ':method')) this.methodPair = pair;
    else if (view.equalsAscii(at, length, ':path')) this.pathPair = pair;
    else if (view.equalsAscii(at, length, ':authority')) this.authorityPair = pair;
  }

  private ensureCapacity(pairs: i32): void {
    if (this.keyAt.length >= pairs) return;
    let capacity = this.keyAt.length < 32 ? 32 : this.keyAt.length;
    while (capacity < pairs) capacity <<= 1;
    this.keyAt = new StaticArray<i32>(capacity);
    this.keyLength = new StaticArray<i32>(capacity);
    this.valueAt = new StaticArray<i32>(capacity);
    this.valueLength = new StaticArray<i32>(capacity);
  }
}
