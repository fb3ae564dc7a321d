// memcached 1.6.18's base64_decode (base64.c), which meta commands use for `b` keys, as the fuzz
// model needs it: bytes outside the alphabet are skipped, the count of alphabet bytes ('=' counts)
// must be a non-zero multiple of 4, and decoding stops after the first block that holds padding
// (1 or 2 '=' drop 1 or 2 bytes of that block; more is an error). Undefined means memcached
// refuses the key.

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';

function sextet(byte: number): number {
  if (byte === 0x3d) return 0; // '=' decodes as 0 and counts as padding
  const index = ALPHABET.indexOf(String.fromCharCode(byte));
  return byte < 0x80 ? index : -1;
}

export function memcachedBase64Decode(input: Uint8Array): Uint8Array | undefined {
  let count = 0;
  for (const byte of input) if (sextet(byte) >= 0) count++;
  if (count === 0 || count % 4 !== 0) return undefined;
  const out: number[] = [];
  const block: number[] = [];
  let pad = 0;
  for (const byte of input) {
    const value = sextet(byte);
    if (value < 0) continue;
    if (byte === 0x3d) pad++;
    block.push(value);
    if (block.length < 4) continue;
    const [a = 0, b = 0, c = 0, d = 0] = block;
    out.push(((a << 2) | (b >> 4)) & 0xff, ((b << 4) | (c >> 2)) & 0xff, ((c << 6) | d) & 0xff);
    block.length = 0;
    if (pad > 0) {
      if (pad > 2) return undefined;
      out.length -= pad;
      break;
    }
  }
  return Uint8Array.from(out);
}
