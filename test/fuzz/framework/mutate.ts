// Byte-level mutation of recorded or generated sessions: flips, inserts, deletions, duplicated
// and swapped ranges, splices with another session, and dictionary words (a protocol's command
// names, numbers at their limits, delimiters) dropped in at random places. Every choice comes
// from the case's Prng, so a mutated case replays from its seed.
import type { Prng } from './prng.ts';

export interface MutationOptions {
  /** Protocol words to splice in. */
  readonly dictionary: readonly Uint8Array[];
  /** Other sessions to splice with. */
  readonly corpus: readonly Uint8Array[];
  /** Upper bound on the result's length. */
  readonly maxLength: number;
}

type Mutator = (input: Uint8Array, prng: Prng, options: MutationOptions) => Uint8Array;

const MUTATORS: readonly (readonly [number, Mutator])[] = [
  [3, flipBit],
  [3, setByte],
  [2, insertBytes],
  [3, deleteRange],
  [2, duplicateRange],
  [5, insertWord],
  [5, replaceWithWord],
  [2, splice],
  [1, swapRanges],
];

/** Applies 1..`rounds` random mutations to `input`. */
export function mutate(input: Uint8Array, prng: Prng, options: MutationOptions, rounds = 4): Uint8Array {
  let out = input;
  const count = prng.between(1, rounds);
  for (let i = 0; i < count; i++) {
    out = prng.weighted(MUTATORS)(out, prng, options);
    if (out.length > options.maxLength) out = out.subarray(0, options.maxLength);
  }
  return out;
}

function flipBit(input: Uint8Array, prng: Prng): Uint8Array {
  if (input.length === 0) return input;
  const out = input.slice();
  const at = prng.below(out.length);
  out[at] = (out[at] ?? 0) ^ (1 << prng.below(8));
  return out;
}

function setByte(input: Uint8Array, prng: Prng): Uint8Array {
  if (input.length === 0) return input;
  const out = input.slice();
  out[prng.below(out.length)] = prng.pick(INTERESTING_BYTES);
  return out;
}

function insertBytes(input: Uint8Array, prng: Prng): Uint8Array {
  const extra = prng.chance(0.5) ? prng.bytes(prng.between(1, 8)) : Uint8Array.from({ length: prng.between(1, 4) }, () => prng.pick(INTERESTING_BYTES));
  return insertAt(input, prng.below(input.length + 1), extra);
}

function deleteRange(input: Uint8Array, prng: Prng): Uint8Array {
  if (input.length === 0) return input;
  const start = prng.below(input.length);
  const length = prng.between(1, Math.min(16, input.length - start));
  return concat([input.subarray(0, start), input.subarray(start + length)]);
}

function duplicateRange(input: Uint8Array, prng: Prng): Uint8Array {
  if (input.length === 0) return input;
  const start = prng.below(input.length);
  const length = prng.between(1, Math.min(64, input.length - start));
  return insertAt(input, prng.below(input.length + 1), input.subarray(start, start + length));
}

function insertWord(input: Uint8Array, prng: Prng, options: MutationOptions): Uint8Array {
  if (options.dictionary.length === 0) return input;
  return insertAt(input, prng.below(input.length + 1), prng.pick(options.dictionary));
}

// Replaces a run of non-space, non-newline bytes (a token, in text protocols) or a few bytes with a word.
function replaceWithWord(input: Uint8Array, prng: Prng, options: MutationOptions): Uint8Array {
  if (options.dictionary.length === 0 || input.length === 0) return input;
  let start = prng.below(input.length);
  while (start > 0 && !isDelimiter(input[start - 1] ?? 0)) start--;
  let end = start;
  while (end < input.length && !isDelimiter(input[end] ?? 0)) end++;
  if (end === start) end = Math.min(input.length, start + prng.between(1, 4));
  return concat([input.subarray(0, start), prng.pick(options.dictionary), input.subarray(end)]);
}

function splice(input: Uint8Array, prng: Prng, options: MutationOptions): Uint8Array {
  if (options.corpus.length === 0) return input;
  const other = prng.pick(options.corpus);
  if (other.length === 0) return input;
  const from = prng.below(other.length);
  const piece = other.subarray(from, from + prng.between(1, Math.min(256, other.length - from)));
  return insertAt(input, prng.below(input.length + 1), piece);
}

function swapRanges(input: Uint8Array, prng: Prng): Uint8Array {
  if (input.length < 4) return input;
  const cut = prng.between(1, input.length - 1);
  return concat([input.subarray(cut), input.subarray(0, cut)]);
}

const INTERESTING_BYTES = [0x00, 0x0a, 0x0d, 0x20, 0x09, 0x0b, 0x0c, 0x2b, 0x2d, 0x30, 0x39, 0x7f, 0x80, 0x81, 0xff, 0x3d, 0x62];

function isDelimiter(byte: number): boolean {
  return byte === 0x20 || byte === 0x0a || byte === 0x0d;
}

function insertAt(input: Uint8Array, at: number, extra: Uint8Array): Uint8Array {
  return concat([input.subarray(0, at), extra, input.subarray(at)]);
}

export function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}
