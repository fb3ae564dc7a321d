// Kafka's variable-length integers, read exactly as the broker's ByteUtils reads them (a 32-bit
// unsigned varint takes at most 5 bytes, bits past 32 are lost as in Java's int arithmetic, and a
// fifth byte with its high bit set is an error), and written for the responses the parser builds.
// Reads return the value and leave its byte count in `varintBytes`; a read past the window or an
// over-long varint sets `varintBytes` to a negative NEED_MORE / MALFORMED.
import { ByteView, MALFORMED, NEED_MORE } from '../../sdk/index';

export class VarintReader {
  // Bytes the last read consumed, or NEED_MORE / MALFORMED.
  varintBytes: i32 = 0;

  // Kafka ByteUtils.readUnsignedVarint: returns the value as a (possibly negative) int.
  unsigned(view: ByteView, offset: i32): i32 {
    let result: i32 = 0;
    for (let i = 0; i < 5; i++) {
      const byte = view.byteAt(offset + i);
      if (byte < 0) {
        this.varintBytes = NEED_MORE;
        return 0;
      }
      if (i == 4) {
        if (byte >= 0x80) break; // "Varint is too long"
        result |= byte << 28;
        this.varintBytes = 5;
        return result;
      }
      result |= (byte & 0x7f) << (7 * i);
      if (byte < 0x80) {
        this.varintBytes = i + 1;
        return result;
      }
    }
    this.varintBytes = MALFORMED;
    return 0;
  }

  // Kafka ByteUtils.readVarint (zig-zag over the unsigned form).
  signed(view: ByteView, offset: i32): i32 {
    const raw = this.unsigned(view, offset);
    return (<i32>(<u32>raw >>> 1)) ^ -(raw & 1);
  }

  // Kafka ByteUtils.readVarlong: at most 10 bytes; only the length matters to the walker.
  varlongLength(view: ByteView, offset: i32): i32 {
    for (let i = 0; i < 10; i++) {
      const byte = view.byteAt(offset + i);
      if (byte < 0) return NEED_MORE;
      if (byte < 0x80) return i + 1;
    }
    return MALFORMED;
  }
}

// Bytes an unsigned varint of `value` takes.
export function unsignedVarintSize(value: u32): i32 {
  let size = 1;
  while (value >= 0x80) {
    value >>>= 7;
    size++;
  }
  return size;
}

export function i16be(view: ByteView, offset: i32): i32 {
  const raw = view.u16be(offset);
  return raw < 0 ? raw : <i32>(<i16>raw);
}

export function i32be(view: ByteView, offset: i32): i32 {
  return <i32>view.u32be(offset);
}
