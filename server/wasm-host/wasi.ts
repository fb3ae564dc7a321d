// The WASI functions cpp-host gives every Proxy-Wasm module (under wasi_snapshot_preview1 and
// wasi_unstable): fd_write to fd 1/2 becomes an info/error log line, clock_time_get reads the host
// clock (realtime only), random_get, an environment from VmConfig, empty args, and a proc_exit that
// only logs and returns. File-system calls answer as cpp-host does (ENOSYS/EBADF or a logged no-op).
import { WasiErrno, wasiSignatures } from './abi.ts';
import type { GuestMemory } from './guest-memory.ts';
import type { HostFunction } from './host-functions.ts';
import { randomBytes } from 'node:crypto';

export interface WasiBackend {
  memory(): GuestMemory;
  log(level: number, message: string): void;
  hostLog(level: number, message: string): void; // lines Envoy itself would print
  nowNanoseconds(): bigint;
  environment: ReadonlyArray<readonly [string, string]>;
}

const infoLevel = 2;
const errorLevel = 4;

function u32(value: number | bigint): number {
  return Number(BigInt.asUintN(32, BigInt(value)));
}

export function createWasiFunctions(host: WasiBackend): Record<string, HostFunction> {
  const memory = (): GuestMemory => host.memory();
  const encoder = new TextEncoder();
  const environmentEntries = (): Uint8Array[] => host.environment.map(([key, value]) => encoder.encode(`${key}=${value}\0`));

  const functions: Record<string, HostFunction> = {
    fd_write(fd, iovs, iovsLength, writtenSlot) {
      const level = u32(fd) === 1 ? infoLevel : u32(fd) === 2 ? errorLevel : undefined;
      if (level === undefined) return WasiErrno.BadFileDescriptor;
      const parts: Uint8Array[] = [];
      for (let index = 0; index < u32(iovsLength); index++) {
        const vector = memory().read(u32(iovs) + index * 8, 8);
        if (vector === undefined) return WasiErrno.Fault;
        const view = new DataView(vector.buffer);
        const length = view.getUint32(4, true);
        if (length === 0) continue;
        const part = memory().read(view.getUint32(0, true), length);
        if (part === undefined) return WasiErrno.Fault;
        parts.push(part);
      }
      let message = new TextDecoder().decode(Buffer.concat(parts));
      const written = parts.reduce((sum, part) => sum + part.length, 0);
      if (written > 0) {
        if (message.endsWith('\n')) message = message.slice(0, -1);
        host.log(level, message);
      }
      return memory().writeU32(u32(writtenSlot), written) ? WasiErrno.Success : WasiErrno.Fault;
    },
    fd_read: () => WasiErrno.NoSys,
    fd_seek() {
      host.hostLog(errorLevel, 'wasi_unstable fd_seek');
      return WasiErrno.Success;
    },
    fd_close() {
      host.hostLog(errorLevel, 'wasi_unstable fd_close');
      return WasiErrno.Success;
    },
    fd_fdstat_get(fd, statSlot) {
      if (u32(fd) !== 1 && u32(fd) !== 2) return WasiErrno.BadFileDescriptor;
      const stat = new Uint8Array(24);
      new DataView(stat.buffer).setBigUint64(8, 64n, true); // fs_rights_base = FD_WRITE
      memory().write(u32(statSlot), stat);
      return WasiErrno.Success;
    },
    environ_sizes_get(countSlot, sizeSlot) {
      const entries = environmentEntries();
      const size = entries.reduce((sum, entry) => sum + entry.length, 0);
      if (!memory().writeU32(u32(countSlot), entries.length)) return WasiErrno.Fault;
      return memory().writeU32(u32(sizeSlot), size) ? WasiErrno.Success : WasiErrno.Fault;
    },
    environ_get(arraySlot, bufferPointer) {
      let array = u32(arraySlot);
      let buffer = u32(bufferPointer);
      for (const entry of environmentEntries()) {
        if (!memory().writeU32(array, buffer) || !memory().write(buffer, entry)) return WasiErrno.Fault;
        array += 4;
        buffer += entry.length;
      }
      return WasiErrno.Success;
    },
    args_get: () => WasiErrno.Success,
    args_sizes_get(countSlot, sizeSlot) {
      if (!memory().writeU32(u32(countSlot), 0)) return WasiErrno.Fault;
      return memory().writeU32(u32(sizeSlot), 0) ? WasiErrno.Success : WasiErrno.Fault;
    },
    clock_time_get(clockId, _precision, resultSlot) {
      if (u32(clockId) !== 0) return WasiErrno.NotSupported;
      return memory().writeU64(u32(resultSlot), host.nowNanoseconds()) ? WasiErrno.Success : WasiErrno.Fault;
    },
    random_get(pointer, length) {
      return memory().write(u32(pointer), new Uint8Array(randomBytes(u32(length)))) ? WasiErrno.Success : WasiErrno.Fault;
    },
    proc_exit() {
      // cpp-host logs and returns: execution continues after proc_exit.
      host.hostLog(errorLevel, 'wasi_unstable proc_exit');
      return 0;
    },
    path_open: () => WasiErrno.NoSys,
    fd_prestat_get: () => WasiErrno.BadFileDescriptor,
    fd_prestat_dir_name: () => WasiErrno.NoSys,
  };
  for (const name of Object.keys(wasiSignatures)) {
    if (functions[name] === undefined) throw new Error(`wasi.ts: no implementation for ${name}`);
  }
  return functions;
}
