// The few DER (ASN.1 Distinguished Encoding Rules) pieces an X.509 certificate needs: a writer for
// the types x509.ts emits and a reader that walks TLVs (to take a given CA certificate's subject
// and key identifier). No schema, no BER leniency: DER only, as certificates are.

/** Universal and context tags used by X.509. */
export const enum DerTag {
  Boolean = 0x01,
  Integer = 0x02,
  BitString = 0x03,
  OctetString = 0x04,
  Null = 0x05,
  ObjectIdentifier = 0x06,
  Utf8String = 0x0c,
  Sequence = 0x30,
  Set = 0x31,
  UtcTime = 0x17,
  GeneralizedTime = 0x18,
}

export function tlv(tag: number, content: Uint8Array): Buffer {
  return Buffer.concat([Buffer.from([tag]), encodeLength(content.length), content]);
}

export function sequence(...items: Uint8Array[]): Buffer {
  return tlv(DerTag.Sequence, Buffer.concat(items));
}

export function set(...items: Uint8Array[]): Buffer {
  return tlv(DerTag.Set, Buffer.concat(items));
}

/** A context-specific constructed tag ([n] EXPLICIT). */
export function explicit(tagNumber: number, content: Uint8Array): Buffer {
  return tlv(0xa0 | tagNumber, content);
}

/** A context-specific primitive tag ([n] IMPLICIT over a primitive type). */
export function implicitPrimitive(tagNumber: number, content: Uint8Array): Buffer {
  return tlv(0x80 | tagNumber, content);
}

/** A non-negative INTEGER from its big-endian magnitude. */
export function unsignedInteger(magnitude: Uint8Array): Buffer {
  let start = 0;
  while (start < magnitude.length - 1 && magnitude[start] === 0) start += 1;
  const trimmed = magnitude.subarray(start);
  const needsPad = trimmed.length === 0 || (trimmed[0] ?? 0) >= 0x80;
  return tlv(DerTag.Integer, needsPad ? Buffer.concat([Buffer.from([0]), trimmed]) : trimmed);
}

export function smallInteger(value: number): Buffer {
  if (!Number.isInteger(value) || value < 0 || value > 0x7fffffff) throw new RangeError(`DER: ${value} is not a small non-negative integer`);
  const bytes: number[] = [];
  let rest = value;
  do {
    bytes.unshift(rest & 0xff);
    rest >>>= 8;
  } while (rest > 0);
  return unsignedInteger(Uint8Array.from(bytes));
}

export function boolean(value: boolean): Buffer {
  return tlv(DerTag.Boolean, Uint8Array.of(value ? 0xff : 0x00));
}

export function nullValue(): Buffer {
  return tlv(DerTag.Null, new Uint8Array(0));
}

export function octetString(content: Uint8Array): Buffer {
  return tlv(DerTag.OctetString, content);
}

/** A BIT STRING of whole bytes (signatures, keys). */
export function bitString(content: Uint8Array): Buffer {
  return tlv(DerTag.BitString, Buffer.concat([Buffer.from([0]), content]));
}

/**
 * A named-bit BIT STRING (key usage): `bits` are bit numbers, 0 = most significant bit of the
 * first byte. DER drops trailing zero bits.
 */
export function namedBits(bits: readonly number[]): Buffer {
  const highest = Math.max(...bits);
  const bytes = new Uint8Array(Math.floor(highest / 8) + 1);
  for (const bit of bits) bytes[bit >> 3] = (bytes[bit >> 3] ?? 0) | (0x80 >> (bit & 7));
  const unused = 7 - (highest & 7);
  return tlv(DerTag.BitString, Buffer.concat([Buffer.from([unused]), bytes]));
}

export function utf8String(text: string): Buffer {
  return tlv(DerTag.Utf8String, Buffer.from(text, 'utf8'));
}

export function objectIdentifier(dotted: string): Buffer {
  const arcs = dotted.split('.').map((arc) => Number(arc));
  if (arcs.length < 2 || arcs.some((arc) => !Number.isInteger(arc) || arc < 0)) throw new Error(`DER: "${dotted}" is not an object identifier`);
  const [first = 0, second = 0, ...rest] = arcs;
  const bytes: number[] = [];
  for (const arc of [first * 40 + second, ...rest]) {
    const group: number[] = [arc & 0x7f];
    let value = Math.floor(arc / 128);
    while (value > 0) {
      group.unshift((value & 0x7f) | 0x80);
      value = Math.floor(value / 128);
    }
    bytes.push(...group);
  }
  return tlv(DerTag.ObjectIdentifier, Uint8Array.from(bytes));
}

/** X.509 Time: UTCTime through 2049, GeneralizedTime from 2050 (RFC 5280 4.1.2.5). Seconds precision. */
export function time(date: Date): Buffer {
  const iso = date.toISOString(); // YYYY-MM-DDTHH:MM:SS.sssZ
  const digits = `${iso.slice(0, 4)}${iso.slice(5, 7)}${iso.slice(8, 10)}${iso.slice(11, 13)}${iso.slice(14, 16)}${iso.slice(17, 19)}Z`;
  if (date.getUTCFullYear() < 2050) return tlv(DerTag.UtcTime, Buffer.from(digits.slice(2), 'ascii'));
  return tlv(DerTag.GeneralizedTime, Buffer.from(digits, 'ascii'));
}

function encodeLength(length: number): Buffer {
  if (length < 0x80) return Buffer.from([length]);
  const bytes: number[] = [];
  let rest = length;
  while (rest > 0) {
    bytes.unshift(rest & 0xff);
    rest >>>= 8;
  }
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

/** One element read from DER: its tag, its content, and the whole encoding (tag and length included). */
export interface DerElement {
  tag: number;
  content: Buffer;
  encoded: Buffer;
}

/** Reads the element at `offset`; throws (with `what`) on truncated or non-DER lengths. */
export function readElement(bytes: Buffer, offset: number, what: string): DerElement & { next: number } {
  const tag = bytes[offset];
  let lengthByte = bytes[offset + 1];
  if (tag === undefined || lengthByte === undefined) throw new Error(`${what}: truncated DER`);
  let cursor = offset + 2;
  let length = lengthByte;
  if (lengthByte >= 0x80) {
    const count = lengthByte & 0x7f;
    if (count === 0 || count > 4) throw new Error(`${what}: unsupported DER length`);
    length = 0;
    for (let index = 0; index < count; index += 1) {
      lengthByte = bytes[cursor + index];
      if (lengthByte === undefined) throw new Error(`${what}: truncated DER`);
      length = length * 256 + lengthByte;
    }
    cursor += count;
  }
  const end = cursor + length;
  if (end > bytes.length) throw new Error(`${what}: truncated DER`);
  return { tag, content: bytes.subarray(cursor, end), encoded: bytes.subarray(offset, end), next: end };
}

/** The elements inside a constructed element's content, in order. */
export function readChildren(content: Buffer, what: string): DerElement[] {
  const children: DerElement[] = [];
  let offset = 0;
  while (offset < content.length) {
    const element = readElement(content, offset, what);
    children.push({ tag: element.tag, content: element.content, encoded: element.encoded });
    offset = element.next;
  }
  return children;
}
