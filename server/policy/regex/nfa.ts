// Thompson construction: turns a regex syntax tree into an NFA whose edges are byte sets,
// epsilons, or the `^`/`$` assertions (epsilons that hold only at the start or end of the input).
// Search mode wraps the pattern as Go's MatchString does: any prefix, the pattern, any suffix.
import { byteSetOf, type ByteSet, type RegexNode } from './regex-syntax.ts';

export type NfaEdge =
  | { readonly kind: 'byte'; readonly set: ByteSet; readonly to: number }
  | { readonly kind: 'epsilon'; readonly to: number }
  | { readonly kind: 'assert'; readonly at: 'start' | 'end'; readonly to: number };

export interface Nfa {
  readonly edges: NfaEdge[][];
  readonly start: number;
  readonly accept: number;
}

/** Limit on NFA states, so a pattern like `(a{1000}){1000}` fails fast instead of exhausting memory. */
export const MAX_NFA_STATES = 200_000;

export class NfaTooLargeError extends Error {}

export function buildSearchNfa(root: RegexNode): Nfa {
  const builder = new NfaBuilder();
  const anyByte = byteSetOf(() => true);
  const start = builder.newState();
  const accept = builder.newState();
  // Unanchored on both sides: loop on any byte before the pattern, and stay accepting after it.
  builder.add(start, { kind: 'byte', set: anyByte, to: start });
  builder.add(accept, { kind: 'byte', set: anyByte, to: accept });
  const fragment = builder.build(root);
  builder.add(start, { kind: 'epsilon', to: fragment.start });
  builder.add(fragment.end, { kind: 'epsilon', to: accept });
  return { edges: builder.edges, start, accept };
}

interface Fragment {
  readonly start: number;
  readonly end: number;
}

class NfaBuilder {
  readonly edges: NfaEdge[][] = [];

  newState(): number {
    if (this.edges.length >= MAX_NFA_STATES) throw new NfaTooLargeError(`the regex expands to more than ${MAX_NFA_STATES} NFA states`);
    this.edges.push([]);
    return this.edges.length - 1;
  }

  add(from: number, edge: NfaEdge): void {
    this.edges[from]?.push(edge);
  }

  build(node: RegexNode): Fragment {
    switch (node.kind) {
      case 'empty':
        return this.single({ kind: 'epsilon', to: -1 });
      case 'bytes':
        return this.single({ kind: 'byte', set: node.set, to: -1 });
      case 'assertion':
        return this.single({ kind: 'assert', at: node.at, to: -1 });
      case 'concat':
        return this.concat(node.items.map((item) => () => this.build(item)));
      case 'alternation':
        return this.alternation(node.items);
      case 'repeat':
        return this.repeat(node.item, node.min, node.max);
    }
  }

  private single(edge: NfaEdge): Fragment {
    const start = this.newState();
    const end = this.newState();
    this.add(start, { ...edge, to: end });
    return { start, end };
  }

  private concat(parts: ReadonlyArray<() => Fragment>): Fragment {
    if (parts.length === 0) return this.single({ kind: 'epsilon', to: -1 });
    let first: Fragment | undefined;
    let last: Fragment | undefined;
    for (const part of parts) {
      const fragment = part();
      if (last !== undefined) this.add(last.end, { kind: 'epsilon', to: fragment.start });
      first ??= fragment;
      last = fragment;
    }
    return { start: (first as Fragment).start, end: (last as Fragment).end };
  }

  private alternation(items: readonly RegexNode[]): Fragment {
    const start = this.newState();
    const end = this.newState();
    for (const item of items) {
      const fragment = this.build(item);
      this.add(start, { kind: 'epsilon', to: fragment.start });
      this.add(fragment.end, { kind: 'epsilon', to: end });
    }
    return { start, end };
  }

  private repeat(item: RegexNode, min: number, max: number): Fragment {
    const parts: Array<() => Fragment> = [];
    for (let i = 0; i < min; i++) parts.push(() => this.build(item));
    if (max === Infinity) parts.push(() => this.star(item));
    else for (let i = min; i < max; i++) parts.push(() => this.optional(item));
    return this.concat(parts);
  }

  private star(item: RegexNode): Fragment {
    const start = this.newState();
    const end = this.newState();
    const body = this.build(item);
    this.add(start, { kind: 'epsilon', to: body.start });
    this.add(start, { kind: 'epsilon', to: end });
    this.add(body.end, { kind: 'epsilon', to: start });
    return { start, end };
  }

  private optional(item: RegexNode): Fragment {
    // A fresh entry state: body.start may be re-entered by a loop inside the body.
    const start = this.newState();
    const body = this.build(item);
    this.add(start, { kind: 'epsilon', to: body.start });
    this.add(start, { kind: 'epsilon', to: body.end });
    return { start, end: body.end };
  }
}
