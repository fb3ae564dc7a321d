// Builds the constant byte strings parsers declare once (deny replies, probes).
export function asciiBytes(text: string): ArrayBuffer {
  const bytes = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) bytes[i] = <u8>text.charCodeAt(i);
  return bytes.buffer;
}
