// The Proxy-Wasm serialized map (headers, gRPC metadata): little-endian u32 count, count pairs of u32
// key/value lengths, then each key and value followed by a NUL byte. Decoding follows cpp-host's
// toPairs: a malformed map decodes as empty rather than failing.

export type Pairs = Array<[string, string]>;

export function encodePairs(pairs: Pairs): Uint8Array {
  const encoder = new TextEncoder();
  const encoded = pairs.map(([key, value]) => [encoder.encode(key), encoder.encode(value)] as const);
  let size = 4 + encoded.length * 8;
  for (const [key, value] of encoded) size += key.length + value.length + 2;
  const out = new Uint8Array(size);
  const view = new DataView(out.buffer);
  view.setUint32(0, encoded.length, true);
  let header = 4;
  let body = 4 + encoded.length * 8;
  for (const [key, value] of encoded) {
    view.setUint32(header, key.length, true);
    view.setUint32(header + 4, value.length, true);
    header += 8;
    out.set(key, body);
    body += key.length + 1;
    out.set(value, body);
    body += value.length + 1;
  }
  return out;
}

export function decodePairs(bytes: Uint8Array): Pairs {
  if (bytes.length < 4) return [];
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
  const count = view.getUint32(0, true);
  if (4 + count * 8 > bytes.length) return [];
  const decoder = new TextDecoder();
  const pairs: Pairs = [];
  let body = 4 + count * 8;
  for (let index = 0; index < count; index++) {
    const keyLength = view.getUint32(4 + index * 8, true);
    const valueLength = view.getUint32(8 + index * 8, true);
    if (body + keyLength + valueLength + 2 > bytes.length) return [];
    const key = decoder.decode(bytes.subarray(body, body + keyLength));
    body += keyLength + 1;
    const value = decoder.decode(bytes.subarray(body, body + valueLength));
    body += valueLength + 1;
    pairs.push([key, value]);
  }
  return pairs;
}
