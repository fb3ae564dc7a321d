// Compares wire bytes with a name the way a server that folds case compares them, without
// guessing at Unicode: servers written in Java or Go fold with full Unicode rules (Java's
// "compreßion".toUpperCase() is "COMPRESSION"; the Kelvin sign lower-cases to "k"), which a filter
// cannot mirror byte for byte. So an ASCII-only range is folded exactly (A-Z <-> a-z, nothing
// else), and a range holding any byte >= 0x80 is reported as NotAscii: the caller refuses it
// instead of deciding on a name the server might read differently.
import { ByteView } from './byte-view';

export const enum CaseFold {
  Match = 0, // ASCII, equal to the name ignoring ASCII case
  Differs = 1, // ASCII, not equal
  NotAscii = 2, // holds a byte >= 0x80: the server's folding cannot be mirrored; refuse
}

// How the `length` bytes at `offset` compare with `name` (ASCII) ignoring ASCII case. A range
// outside the view is Differs.
export function foldedCompare(view: ByteView, offset: i32, length: i32, name: string): CaseFold {
  if (!view.has(offset, length)) return CaseFold.Differs;
  if (!isAsciiRange(view, offset, length)) return CaseFold.NotAscii;
  if (length != name.length) return CaseFold.Differs;
  for (let i = 0; i < length; i++) {
    if (asciiLower(view.byteAt(offset + i)) != asciiLower(name.charCodeAt(i))) return CaseFold.Differs;
  }
  return CaseFold.Match;
}

// True when every byte of the range is below 0x80.
export function isAsciiRange(view: ByteView, offset: i32, length: i32): bool {
  for (let i = 0; i < length; i++) {
    const byte = view.byteAt(offset + i);
    if (byte < 0 || byte >= 0x80) return false;
  }
  return true;
}

export function asciiLower(byte: i32): i32 {
  return byte >= 0x41 && byte <= 0x5a ? byte + 0x20 : byte;
}
