// UTF-8 for access-log entries, without allocating: wire bytes are taken as one character each
// (byte 0xE9 is U+00E9, as Latin-1; so any bytes give valid UTF-8 and the server sees the same
// text it saw when entries were JSON with \u00XX escapes), strings as their UTF-16 code units
// (a lone surrogate is encoded as it is, three bytes, as WTF-8 does). Reading back (the
// `weir-accesslog` line) yields the UTF-16 code units again and never traps on bytes it did not
// write.
import { ByteBuffer } from './byte-buffer';

// Appends `length` bytes at `pointer`, each as the character of that value; the caller vouches for
// the range.
export function appendUtf8OfBytes(target: ByteBuffer, pointer: usize, length: usize): void {
  const begin = target.writePtr(length * 2);
  let at = begin;
  for (let i: usize = 0; i < length; i++) {
    const byte = load<u8>(pointer + i); // safe: i < length, as the caller vouched
    if (byte < 0x80) {
      store<u8>(at++, byte);
    } else {
      store<u8>(at++, 0xc0 | (byte >> 6));
      store<u8>(at++, 0x80 | (byte & 0x3f));
    }
  }
  target.advanceEnd(at - begin);
}

// Bytes appendUtf8OfString() writes for `text`.
export function utf8LengthOfString(text: string): usize {
  const units = changetype<usize>(text);
  const count = <usize>text.length;
  let size: usize = 0;
  for (let i: usize = 0; i < count; i++) {
    const unit = <u32>load<u16>(units + (i << 1)); // safe: i < text.length code units
    if (unit < 0x80) size += 1;
    else if (unit < 0x800) size += 2;
    else if (isSurrogatePair(units, i, count)) {
      size += 4;
      i++;
    } else size += 3;
  }
  return size;
}

export function appendUtf8OfString(target: ByteBuffer, text: string): void {
  const units = changetype<usize>(text);
  const count = <usize>text.length;
  const begin = target.writePtr(count * 3);
  let at = begin;
  for (let i: usize = 0; i < count; i++) {
    const unit = <u32>load<u16>(units + (i << 1)); // safe: i < text.length code units
    if (unit < 0x80) {
      store<u8>(at++, <u8>unit);
    } else if (unit < 0x800) {
      store<u8>(at++, <u8>(0xc0 | (unit >> 6)));
      store<u8>(at++, <u8>(0x80 | (unit & 0x3f)));
    } else if (isSurrogatePair(units, i, count)) {
      const low = <u32>load<u16>(units + ((i + 1) << 1)); // safe: isSurrogatePair checked i + 1 < count
      const point = 0x10000 + ((unit - 0xd800) << 10) + (low - 0xdc00);
      store<u8>(at++, <u8>(0xf0 | (point >> 18)));
      store<u8>(at++, <u8>(0x80 | ((point >> 12) & 0x3f)));
      store<u8>(at++, <u8>(0x80 | ((point >> 6) & 0x3f)));
      store<u8>(at++, <u8>(0x80 | (point & 0x3f)));
      i++;
    } else {
      store<u8>(at++, <u8>(0xe0 | (unit >> 12)));
      store<u8>(at++, <u8>(0x80 | ((unit >> 6) & 0x3f)));
      store<u8>(at++, <u8>(0x80 | (unit & 0x3f)));
    }
  }
  target.advanceEnd(at - begin);
}

// Reads UTF-8 from [pointer, pointer + length) one UTF-16 code unit at a time:
// `reader.reset(pointer, length); while (reader.next()) use(reader.unit)`. A byte that does not
// start a complete sequence is read as the character of its value.
export class Utf8Units {
  unit: u32 = 0;
  private at: usize = 0;
  private end: usize = 0;
  private pendingLow: u32 = 0;

  reset(pointer: usize, length: usize): Utf8Units {
    this.at = pointer;
    this.end = pointer + length;
    this.pendingLow = 0;
    return this;
  }

  next(): bool {
    if (this.pendingLow != 0) {
      this.unit = this.pendingLow;
      this.pendingLow = 0;
      return true;
    }
    if (this.at >= this.end) return false;
    const lead = <u32>load<u8>(this.at); // safe: at < end
    const extra: usize = lead >= 0xf0 && lead < 0xf8 ? 3 : lead >= 0xe0 && lead < 0xf0 ? 2 : lead >= 0xc0 && lead < 0xe0 ? 1 : 0;
    if (extra == 0 || this.end - this.at <= extra || !this.continuations(extra)) {
      this.unit = lead;
      this.at += 1;
      return true;
    }
    let point = lead & (0x3f >> <u32>extra);
    for (let i: usize = 1; i <= extra; i++) point = (point << 6) | (<u32>load<u8>(this.at + i) & 0x3f); // safe: at + extra < end
    this.at += extra + 1;
    if (point >= 0x10000) {
      point -= 0x10000;
      this.unit = 0xd800 + (point >> 10);
      this.pendingLow = 0xdc00 + (point & 0x3ff);
    } else {
      this.unit = point;
    }
    return true;
  }

  private continuations(extra: usize): bool {
    for (let i: usize = 1; i <= extra; i++) {
      if ((load<u8>(this.at + i) & 0xc0) != 0x80) return false; // safe: the caller checked at + extra < end
    }
    return true;
  }
}

function isSurrogatePair(units: usize, i: usize, count: usize): bool {
  const unit = <u32>load<u16>(units + (i << 1)); // safe: i < count, as the callers loop
  if (unit < 0xd800 || unit > 0xdbff || i + 1 >= count) return false;
  const low = <u32>load<u16>(units + ((i + 1) << 1)); // safe: i + 1 < count
  return low >= 0xdc00 && low <= 0xdfff;
}
