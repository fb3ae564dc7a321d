// Which binary requests memcached 1.6.18 reads as exactly one frame of 24 + body bytes, from
// proto_bin.c try_read_command_binary and dispatch_bin_command (SASL off, Debian's default).
// memcached first consumes header + extras + key, then per opcode (quiet ones mapped to their
// loud twin) either reads or swallows the value, or answers a protocol error and closes. Three
// shapes consume something else, and would let bytes the filter passed as one request's body run
// as the next request: STAT reads only its key (the body after it is left for parsing), TOUCH/GAT/
// GATK read only extras and key, and an opcode memcached does not implement swallows `body` more
// bytes after extras and key. The filter passes none of those; see README.md.

const KEY_MAX_LENGTH: i32 = 250;
const INT_MAX: i64 = 0x7fffffff;

// null when memcached reads the request as one frame of 24 + body bytes and handles it; otherwise
// why the filter closes the connection instead (for the access log's Error entry).
export function shapeProblem(opcode: i32, extras: i32, key: i32, body: i64): string | null {
  if (<i64>key > body || <i64>(key + extras) > body) return 'binary request whose key and extras exceed its body (memcached answers an error and closes)';
  if (key > KEY_MAX_LENGTH) return 'binary request with a key over 250 bytes (memcached answers a protocol error and closes)';
  const command = loudOpcode(opcode);
  const zero = extras == 0 && key == 0 && body == 0;
  if (command == 0x0b || command == 0x0a || command == 0x07 || command == 0x20) return zero ? null : refused(opcode); // version noop quit sasl-list-mechs
  if (command == 0x08) return key == 0 && body == <i64>extras && (extras == 0 || extras == 4) ? null : refused(opcode); // flush
  if (command >= 0x01 && command <= 0x03) {
    // set add replace: a value length past INT_MAX - 2 turns negative in memcached and is not swallowed
    if (!(extras == 8 && key != 0 && body >= <i64>(key + 8))) return refused(opcode);
    return body - <i64>(key + 8) > INT_MAX - 2 ? 'binary set with a value over 2 GiB (memcached would not swallow it)' : null;
  }
  if (command == 0x00 || command == 0x0c) return extras == 0 && body == <i64>key && key > 0 ? null : refused(opcode); // get getk
  if (command == 0x04) return key > 0 && extras == 0 && body == <i64>key ? null : refused(opcode); // delete
  if (command == 0x05 || command == 0x06) return key > 0 && extras == 20 && body == <i64>(key + 20) ? null : refused(opcode); // incr decr
  if (command == 0x0e || command == 0x0f) {
    if (!(key > 0 && extras == 0)) return refused(opcode); // append prepend
    return body - <i64>key > INT_MAX - 2 ? 'binary append with a value over 2 GiB (memcached would not swallow it)' : null;
  }
  if (command == 0x10) {
    if (extras != 0) return refused(opcode);
    return body == <i64>key ? null : 'binary STAT with a body past its key (memcached reads only the key and would run the rest as the next request)';
  }
  if (command == 0x21 || command == 0x22) return extras == 0 && key != 0 ? null : refused(opcode); // sasl auth/step: value swallowed
  if (command == 0x1c || command == 0x1d || command == 0x23) {
    if (!(extras == 4 && key != 0)) return refused(opcode);
    return body == <i64>(key + 4) ? null : 'binary TOUCH/GAT with a body past its extras and key (memcached would run the rest as the next request)';
  }
  // not implemented by memcached: it swallows `body` bytes after extras and key
  return extras == 0 && key == 0 ? null : 'binary opcode ' + opcode.toString() + ' that memcached does not implement, with extras or a key (memcached would swallow ' + body.toString() + ' bytes after them, past this frame)';
}

// dispatch_bin_command maps the quiet opcodes to their loud twins before checking shapes.
function loudOpcode(opcode: i32): i32 {
  if (opcode == 0x09) return 0x00;
  if (opcode == 0x0d) return 0x0c;
  if (opcode >= 0x11 && opcode <= 0x18) return opcode - 0x10;
  if (opcode == 0x19 || opcode == 0x1a) return opcode - 0x0b;
  if (opcode == 0x1e) return 0x1d;
  if (opcode == 0x24) return 0x23;
  return opcode;
}

function refused(opcode: i32): string {
  return 'binary opcode ' + opcode.toString() + ' in a shape memcached refuses (wrong extras, key or body length; it answers a protocol error and closes)';
}
