// Decodes the base64 keys of meta commands (flag `b`), so that rules match the key memcached
// stores, not its encoding. Writes into a buffer the parser owns; no allocation once it has grown.
import { ByteView } from '../../sdk/index';
import { ByteBuffer } from '../../sdk/byte-buffer';

// Decodes the standard-alphabet base64 text [start, start + length) of `data` into `out`
// (cleared first). False when the text is not valid base64 (memcached then refuses the key).
export function decodeBase64Key(data: ByteView, start: i32, length: i32, out: ByteBuffer): bool {
  out.clear();
  if (length == 0 || length % 4 != 0) return false;
  let bits: u32 = 0;
  let bitCount: i32 = 0;
  let padding = 0;
  for (let i = 0; i < length; i++) {
    const char = data.byteAt(start + i);
    if (char == 0x3d) {
      // '=' only at the end, at most two
      padding++;
      if (i < length - 2 || padding > 2) return false;
      continue;
    }
    if (padding > 0) return false;
    const value = sextet(char);
    if (value < 0) return false;
    bits = (bits << 6) | <u32>value;
    bitCount += 6;
    if (bitCount >= 8) {
      bitCount -= 8;
      out.appendByte(<u8>((bits >> <u32>bitCount) & 0xff));
    }
  }
  return true;
}

function sextet(char: i32): i32 {
  if (char >= 0x41 && char <= 0x5a) return char - 0x41; // A-Z
  if (char >= 0x61 && char <= 0x7a) return char - 0x61 + 26; // a-z
  if (char >= 0x30 && char <= 0x39) return char - 0x30 + 52; // 0-9
  if (char == 0x2b) return 62; // +
  if (char == 0x2f) return 63; // /
  return -1;
}
