// The run seed of a fuzz command: the one given with --seed, or a fresh one that the command
// prints so the run can be repeated.
import { randomInt } from 'node:crypto';

export function seedFrom(text: string | undefined): number {
  if (text === undefined) return randomInt(0, 0x100000000);
  const seed = Number(text);
  if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) throw new Error(`--seed must be an integer 0..4294967295, got "${text}"`);
  return seed;
}
