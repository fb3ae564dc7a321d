// A valid Kafka record batch (magic 2, uncompressed, CRC-32C) of N records of equal size, built
// once per benchmark so every Produce request carries the same bytes, and the broker appends it
// as a client's batch. The filter never looks inside it.

const CRC32C_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0x82f63b78 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

function crc32c(bytes: Buffer): number {
  let crc = 0xffffffff;
  for (const byte of bytes) crc = CRC32C_TABLE[(crc ^ byte) & 0xff]! ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

function varint(value: number): Buffer {
  let zigzag = (value << 1) ^ (value >> 31);
  const bytes: number[] = [];
  zigzag >>>= 0;
  while (zigzag >= 0x80) {
    bytes.push((zigzag & 0x7f) | 0x80);
    zigzag >>>= 7;
  }
  bytes.push(zigzag);
  return Buffer.from(bytes);
}

/** A record batch of `count` records with `valueBytes`-byte values, totalling about count * valueBytes. */
export function recordBatch(count: number, valueBytes: number): Buffer {
  const value = Buffer.alloc(valueBytes, 0x61);
  const records: Buffer[] = [];
  for (let i = 0; i < count; i++) {
    const body = Buffer.concat([Buffer.from([0]), varint(0), varint(i), varint(-1), varint(valueBytes), value, varint(0)]);
    records.push(varint(body.length), body);
  }
  const afterCrc = Buffer.alloc(2 + 4 + 8 + 8 + 8 + 2 + 4 + 4);
  let at = afterCrc.writeInt16BE(0, 0); // attributes: no compression, create time
  at = afterCrc.writeInt32BE(count - 1, at); // last offset delta
  const now = BigInt(Date.now());
  at = afterCrc.writeBigInt64BE(now, at);
  at = afterCrc.writeBigInt64BE(now, at);
  at = afterCrc.writeBigInt64BE(-1n, at); // producer id: none (not idempotent)
  at = afterCrc.writeInt16BE(-1, at);
  at = afterCrc.writeInt32BE(-1, at);
  afterCrc.writeInt32BE(count, at);
  const crcCovered = Buffer.concat([afterCrc, ...records]);
  const head = Buffer.alloc(8 + 4 + 4 + 1 + 4);
  head.writeBigInt64BE(0n, 0); // base offset (the broker assigns)
  head.writeInt32BE(4 + 1 + 4 + crcCovered.length, 8); // batch length: from the leader epoch on
  head.writeInt32BE(-1, 12); // partition leader epoch
  head.writeInt8(2, 16); // magic
  head.writeUInt32BE(crc32c(crcCovered), 17);
  return Buffer.concat([head, crcCovered]);
}
