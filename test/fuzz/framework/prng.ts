// The fuzzers' only source of randomness: a seeded PRNG (sfc32, 128 bits of state from a 32-bit
// seed through splitmix32), so that a seed printed with a failure replays the same case exactly.
// Helpers cover what generators need: integers, picks, weighted choices, byte strings, splits.
// Nothing here reads the clock or Math.random.

export class Prng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  constructor(readonly seed: number) {
    let state = seed >>> 0;
    const next = (): number => {
      state = (state + 0x9e3779b9) >>> 0;
      let z = state;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.a = next();
    this.b = next();
    this.c = next();
    this.d = next();
    for (let i = 0; i < 12; i++) this.u32();
  }

  /** A uniformly distributed unsigned 32-bit integer. */
  u32(): number {
    const t = (((this.a + this.b) >>> 0) + this.d) >>> 0;
    this.d = (this.d + 1) >>> 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) >>> 0;
    this.c = ((this.c << 21) | (this.c >>> 11)) >>> 0;
    this.c = (this.c + t) >>> 0;
    return t;
  }

  /** An integer in [0, bound), bound >= 1. */
  below(bound: number): number {
    return Math.floor((this.u32() / 0x100000000) * bound);
  }

  /** An integer in [min, max]. */
  between(min: number, max: number): number {
    return min + this.below(max - min + 1);
  }

  /** True with probability `p`. */
  chance(p: number): boolean {
    return this.u32() / 0x100000000 < p;
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new Error('Prng.pick: nothing to pick from');
    return items[this.below(items.length)] as T;
  }

  /** Picks by weight: `[[3, 'a'], [1, 'b']]` gives 'a' three times as often as 'b'. */
  weighted<T>(choices: readonly (readonly [number, T])[]): T {
    const total = choices.reduce((sum, [weight]) => sum + weight, 0);
    let point = this.u32() / 0x100000000 * total;
    for (const [weight, value] of choices) {
      if (point < weight) return value;
      point -= weight;
    }
    return (choices[choices.length - 1] as readonly [number, T])[1];
  }

  bytes(length: number): Uint8Array {
    const out = new Uint8Array(length);
    for (let i = 0; i < length; i++) out[i] = this.below(256);
    return out;
  }

  /** A seed for a sub-case, so cases can be replayed one by one. */
  fork(): number {
    return this.u32();
  }

  /** Ascending distinct cut points strictly inside [0, length]: where TCP may split a stream. */
  splitPoints(length: number, count: number): number[] {
    if (length < 2) return [];
    const points = new Set<number>();
    for (let i = 0; i < count; i++) points.add(this.between(1, length - 1));
    return [...points].sort((x, y) => x - y);
  }
}

/** The seed of case `index` of a run started with `runSeed`: cases replay without the ones before. */
export function caseSeed(runSeed: number, index: number): number {
  const prng = new Prng((runSeed ^ Math.imul(index + 1, 0x9e3779b1)) >>> 0);
  return prng.u32();
}
