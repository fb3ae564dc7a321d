// Reads a STARTUP body the way Cassandra 5.0 does (StartupMessage.codec: a [string map] whose
// keys it upper-cases with Java's toUpperCase, later entries replacing earlier ones) and says
// whether Weir may forward it. Option names are compared after the same folding, so
// `compression`, `Compression` and `COMPRESSION` are one option; a name with a non-ASCII byte is
// refused outright because Java folds Unicode too ("compreßion" upper-cases to "COMPRESSION").
// Weir refuses COMPRESSION in any spelling and with any value: it cannot inspect compressed
// frames or segments. Nothing else in STARTUP changes how the bytes that follow are framed.
// Names and values must also be printable ASCII of at most 255 bytes (names not empty), which
// every driver's options are: a Cassandra that rejects the frame's version at the decoder
// (native_transport_allow_older_protocols: false) discards only the bytes it has read so far and
// parses the rest of the frame afresh, and within such a body no byte sequence can then form a
// request Cassandra would act on (a frame header needs control bytes at two places four apart).
import { ByteView, CaseFold, foldedCompare } from '../../sdk/index';

export const enum StartupCheck {
  Forward = 0,
  Compression = 1, // asks for compression: answered with a protocol error, never forwarded
  NonAsciiOption = 2, // a name or value that is not printable ASCII (1-255 bytes): refused likewise
  Malformed = 3, // not a [string map] that fills the body exactly: the connection fails
}

const COMPRESSION_OPTION = 'COMPRESSION';
const MAX_OPTION_BYTES: i32 = 255;

// Checks the [string map] at `at`, which must end exactly at the end of `view` (the envelope).
export function checkStartupOptions(view: ByteView, at: i32): StartupCheck {
  if (at < 0) return StartupCheck.Malformed;
  const count = view.u16be(at);
  if (count < 0) return StartupCheck.Malformed;
  let offset = at + 2;
  let outcome = StartupCheck.Forward;
  for (let i = 0; i < count; i++) {
    const keyLength = view.u16be(offset);
    if (keyLength < 0 || !view.has(offset + 2, keyLength)) return StartupCheck.Malformed;
    const folded = foldedCompare(view, offset + 2, keyLength, COMPRESSION_OPTION);
    if (folded == CaseFold.Match) outcome = StartupCheck.Compression;
    else if (outcome == StartupCheck.Forward && !printable(view, offset, 1)) outcome = StartupCheck.NonAsciiOption;
    offset += 2 + keyLength;
    const valueLength = view.u16be(offset);
    if (valueLength < 0 || !view.has(offset + 2, valueLength)) return StartupCheck.Malformed;
    if (outcome == StartupCheck.Forward && !printable(view, offset, 0)) outcome = StartupCheck.NonAsciiOption;
    offset += 2 + valueLength;
  }
  // Cassandra ignores bytes after the map; no client sends any, and Weir forwards only what it read.
  if (offset != view.length) return StartupCheck.Malformed;
  return outcome;
}

// True when the [string] at `at` is printable ASCII (0x20-0x7e) of `minimum` to 255 bytes.
function printable(view: ByteView, at: i32, minimum: i32): bool {
  const length = view.u16be(at);
  if (length < minimum || length > MAX_OPTION_BYTES) return false;
  for (let i = 0; i < length; i++) {
    const byte = view.byteAt(at + 2 + i);
    if (byte < 0x20 || byte > 0x7e) return false;
  }
  return true;
}
