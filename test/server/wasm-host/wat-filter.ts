// Builds tiny Proxy-Wasm filters from WebAssembly text for host tests. Every fixture gets the same
// preamble: the host functions it may call, a 2-page memory, a bump allocator, the ABI marker, and
// helpers ($log_str, $log_buffer). Return slots live at 8 (pointer) and 12 (size); scratch at 16..31;
// test strings go in data segments from 1024.
import binaryen from 'binaryen';

const preamble = `
  (import "env" "proxy_log" (func $proxy_log (param i32 i32 i32) (result i32)))
  (import "env" "proxy_get_buffer_bytes" (func $get_buffer_bytes (param i32 i32 i32 i32 i32) (result i32)))
  (import "env" "proxy_get_buffer_status" (func $get_buffer_status (param i32 i32 i32) (result i32)))
  (import "env" "proxy_set_buffer_bytes" (func $set_buffer_bytes (param i32 i32 i32 i32 i32) (result i32)))
  (import "env" "proxy_get_property" (func $get_property (param i32 i32 i32 i32) (result i32)))
  (import "env" "proxy_set_property" (func $set_property (param i32 i32 i32 i32) (result i32)))
  (import "env" "proxy_close_stream" (func $close_stream (param i32) (result i32)))
  (import "env" "proxy_continue_stream" (func $continue_stream (param i32) (result i32)))
  (memory (export "memory") 2)
  (global $bump (mut i32) (i32.const 65536))
  (func (export "proxy_abi_version_0_2_1"))
  (func (export "proxy_on_memory_allocate") (param $n i32) (result i32) (local $p i32)
    (local.set $p (global.get $bump))
    (global.set $bump (i32.add (global.get $bump) (local.get $n)))
    (local.get $p))
  (func $log_str (param $level i32) (param $ptr i32) (param $len i32)
    (drop (call $proxy_log (local.get $level) (local.get $ptr) (local.get $len))))
  ;; Logs (info) the first $size bytes of buffer $type; logs "<empty>" when nothing was copied.
  (func $log_buffer (param $type i32) (param $size i32)
    (i32.store (i32.const 12) (i32.const 0))
    (drop (call $get_buffer_bytes (local.get $type) (i32.const 0) (local.get $size) (i32.const 8) (i32.const 12)))
    (if (i32.eqz (i32.load (i32.const 12)))
      (then (call $log_str (i32.const 2) (i32.const 1000) (i32.const 7)))
      (else (call $log_str (i32.const 2) (i32.load (i32.const 8)) (i32.load (i32.const 12))))))
  (data (i32.const 1000) "<empty>")
`;

export function watFilter(body: string, extraImports = ''): Uint8Array {
  const text = `(module ${extraImports} ${preamble} ${body})`;
  const module = binaryen.parseText(text);
  try {
    if (!module.validate()) throw new Error('wat-filter: the fixture does not validate; see binaryen output above');
    return module.emitBinary();
  } finally {
    module.dispose();
  }
}

// A module without the preamble, for load-failure tests.
export function watModule(text: string): Uint8Array {
  const module = binaryen.parseText(text);
  try {
    return module.emitBinary();
  } finally {
    module.dispose();
  }
}
