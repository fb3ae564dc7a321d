// Reads a Wasm binary's imports and exports together with their function signatures. Node 20's
// WebAssembly.Module.imports() gives names but no types, and Envoy's V8 integration refuses a module
// whose import or callback signature is wrong, so the host needs the types to refuse the same modules.
// Only the type, import, function and export sections are decoded; everything else is skipped.
import type { FunctionSignature, ValueType } from './abi.ts';

export interface ModuleImport {
  module: string;
  name: string;
  kind: 'function' | 'table' | 'memory' | 'global' | 'tag';
  signature?: FunctionSignature; // for functions
}

export interface ModuleExport {
  name: string;
  kind: 'function' | 'table' | 'memory' | 'global' | 'tag';
  signature?: FunctionSignature; // for functions
}

export interface ModuleInterface {
  imports: ModuleImport[];
  exports: ModuleExport[];
}

const kinds = ['function', 'table', 'memory', 'global', 'tag'] as const;
const valueTypes: Record<number, ValueType> = {
  0x7f: 'i32',
  0x7e: 'i64',
  0x7d: 'f32',
  0x7c: 'f64',
  0x7b: 'v128',
  0x70: 'funcref',
  0x6f: 'externref',
};

export function readModuleInterface(binary: Uint8Array): ModuleInterface {
  const reader = new BinaryReader(binary);
  if (reader.u32le() !== 0x6d736100) throw new Error('not a Wasm binary: the file does not start with \\0asm');
  reader.u32le(); // version
  const types: FunctionSignature[] = [];
  const imports: ModuleImport[] = [];
  const functionTypes: number[] = [];
  const rawExports: Array<{ name: string; kind: ModuleExport['kind']; index: number }> = [];
  while (!reader.atEnd()) {
    const sectionId = reader.byte();
    const size = reader.leb();
    const end = reader.offset + size;
    if (sectionId === 1) readTypes(reader, types);
    else if (sectionId === 2) readImports(reader, types, imports);
    else if (sectionId === 3) for (let count = reader.leb(); count > 0; count--) functionTypes.push(reader.leb());
    else if (sectionId === 7) readExports(reader, rawExports);
    reader.offset = end;
  }
  const importedFunctions = imports.filter((entry) => entry.kind === 'function');
  const exports = rawExports.map(({ name, kind, index }): ModuleExport => {
    if (kind !== 'function') return { name, kind };
    const signature =
      index < importedFunctions.length
        ? importedFunctions[index]?.signature
        : types[functionTypes[index - importedFunctions.length] ?? -1];
    return { name, kind, signature };
  });
  return { imports, exports };
}

function readTypes(reader: BinaryReader, types: FunctionSignature[]): void {
  for (let count = reader.leb(); count > 0; count--) {
    const form = reader.byte();
    if (form !== 0x60) throw new Error(`unsupported type form 0x${form.toString(16)} in the type section`);
    const params = reader.vector(() => reader.valueType());
    const results = reader.vector(() => reader.valueType());
    types.push({ params, results });
  }
}

function readImports(reader: BinaryReader, types: FunctionSignature[], imports: ModuleImport[]): void {
  for (let count = reader.leb(); count > 0; count--) {
    const module = reader.name();
    const name = reader.name();
    const kind = kinds[reader.byte()] ?? 'tag';
    if (kind === 'function') {
      imports.push({ module, name, kind, signature: types[reader.leb()] });
    } else if (kind === 'table') {
      reader.byte();
      reader.limits();
      imports.push({ module, name, kind });
    } else if (kind === 'memory') {
      reader.limits();
      imports.push({ module, name, kind });
    } else if (kind === 'global') {
      reader.byte();
      reader.byte();
      imports.push({ module, name, kind });
    } else {
      reader.byte();
      reader.leb();
      imports.push({ module, name, kind });
    }
  }
}

function readExports(reader: BinaryReader, out: Array<{ name: string; kind: ModuleExport['kind']; index: number }>): void {
  for (let count = reader.leb(); count > 0; count--) {
    const name = reader.name();
    const kind = kinds[reader.byte()] ?? 'tag';
    out.push({ name, kind, index: reader.leb() });
  }
}

class BinaryReader {
  offset = 0;
  constructor(private readonly bytes: Uint8Array) {}

  atEnd(): boolean {
    return this.offset >= this.bytes.length;
  }

  byte(): number {
    const value = this.bytes[this.offset];
    if (value === undefined) throw new Error(`Wasm binary truncated at byte ${this.offset}`);
    this.offset++;
    return value;
  }

  u32le(): number {
    const value = this.byte() | (this.byte() << 8) | (this.byte() << 16) | (this.byte() << 24);
    return value >>> 0;
  }

  leb(): number {
    let result = 0;
    let shift = 0;
    for (;;) {
      const next = this.byte();
      result += (next & 0x7f) * 2 ** shift;
      if ((next & 0x80) === 0) return result;
      shift += 7;
    }
  }

  name(): string {
    const length = this.leb();
    const text = new TextDecoder().decode(this.bytes.subarray(this.offset, this.offset + length));
    this.offset += length;
    return text;
  }

  valueType(): ValueType {
    const code = this.byte();
    const type = valueTypes[code];
    if (type === undefined) throw new Error(`unknown value type 0x${code.toString(16)} at byte ${this.offset - 1}`);
    return type;
  }

  limits(): void {
    const flags = this.byte();
    this.leb();
    if (flags & 1) this.leb();
  }

  vector<T>(readOne: () => T): T[] {
    const items: T[] = [];
    for (let count = this.leb(); count > 0; count--) items.push(readOne());
    return items;
  }
}
