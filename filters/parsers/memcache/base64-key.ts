// Decodes the base64 keys of meta commands (flag `b`) exactly as memcached 1.6.18's
// base64_decode (base64.c) does, so that rules match the key memcached stores and looks up, not
// its encoding: bytes outside the alphabet are skipped, the alphabet bytes ('=' included) must be
// a non-zero multiple of 4, and decoding stops after the first 4-byte block holding padding (one
// or two '=' drop that many bytes; three or four fail). A stricter decoder would let a key that
// memcached reads as X be matched as Y. Writes into a buffer the parser owns; no allocation once
// it has grown.
import { ByteView } from '../../sdk/index';
import { ByteBuffer } from '../../sdk/byte-buffer';

const PAD: i32 = 0x3d; // '='

// Decodes [start, start + length) of `data` into `out` (cleared first). False when memcached
// refuses the key (its base64_decode returns 0).
export function decodeBase64Key(data: ByteView, start: i32, length: i32, out: ByteBuffer): bool {
  out.clear();
  let count = 0;
  for (let i = 0; i < length; i++) if (sextet(data.byteAt(start + i)) >= 0) count++;
  if (count == 0 || count % 4 != 0) return false;
  let block: u32 = 0;
  let inBlock = 0;
  let padding = 0;
  for (let i = 0; i < length; i++) {
    const char = data.byteAt(start + i);
    const value = sextet(char);
    if (value < 0) continue;
    if (char == PAD) padding++;
    block = (block << 6) | <u32>value;
    if (++inBlock < 4) continue;
    if (padding > 2) return false;
    const keep = 3 - padding;
    out.appendByte(<u8>(block >> 16));
    if (keep > 1) out.appendByte(<u8>(block >> 8));
    if (keep > 2) out.appendByte(<u8>block);
    if (padding > 0) return true;
    block = 0;
    inBlock = 0;
  }
  return true;
}

// The value of a base64 alphabet byte ('=' is 0), or -1 for bytes memcached skips.
function sextet(char: i32): i32 {
  if (char >= 0x41 && char <= 0x5a) return char - 0x41; // A-Z
  if (char >= 0x61 && char <= 0x7a) return char - 0x61 + 26; // a-z
  if (char >= 0x30 && char <= 0x39) return char - 0x30 + 52; // 0-9
  if (char == 0x2b) return 62; // +
  if (char == 0x2f) return 63; // /
  if (char == PAD) return 0;
  return -1;
}
