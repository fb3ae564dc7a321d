// Reads and writes the filter's linear memory the way cpp-host does: bounds-checked accesses that
// report failure instead of throwing (the caller turns it into INVALID_MEMORY_ACCESS), and copies into
// memory the module allocates through its own allocator export. Knows nothing about contexts.

export type GuestAllocator = (size: number) => number;

export class GuestMemory {
  constructor(
    private readonly memory: WebAssembly.Memory,
    private readonly allocate: GuestAllocator,
  ) {}

  // The size of linear memory now, in bytes (it only grows).
  get byteLength(): number {
    return this.memory.buffer.byteLength;
  }

  private view(): Uint8Array {
    // Re-read on every access: the module may have grown its memory since the last call.
    return new Uint8Array(this.memory.buffer);
  }

  // A copy of [pointer, pointer+length), or undefined when the range leaves linear memory.
  read(pointer: number, length: number): Uint8Array | undefined {
    const start = pointer >>> 0;
    const size = length >>> 0;
    const bytes = this.view();
    if (start + size > bytes.length) return undefined;
    return bytes.slice(start, start + size);
  }

  write(pointer: number, data: Uint8Array): boolean {
    const start = pointer >>> 0;
    const bytes = this.view();
    if (start + data.length > bytes.length) return false;
    bytes.set(data, start);
    return true;
  }

  writeU32(pointer: number, value: number): boolean {
    const data = new Uint8Array(4);
    new DataView(data.buffer).setUint32(0, value >>> 0, true);
    return this.write(pointer, data);
  }

  writeU64(pointer: number, value: bigint): boolean {
    const data = new Uint8Array(8);
    new DataView(data.buffer).setBigUint64(0, BigInt.asUintN(64, value), true);
    return this.write(pointer, data);
  }

  // cpp-host copyToPointerSize: allocate in the module (nothing for empty data, pointer 0), copy, then
  // store pointer and size in the two return slots.
  copyOut(data: Uint8Array, pointerSlot: number, sizeSlot: number): boolean {
    let pointer = 0;
    if (data.length > 0) {
      pointer = this.allocate(data.length) >>> 0;
      if (pointer === 0 || !this.write(pointer, data)) return false;
    }
    return this.writeU32(pointerSlot, pointer) && this.writeU32(sizeSlot, data.length);
  }
}
