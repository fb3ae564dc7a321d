// Subset construction and minimisation: turns a search NFA (nfa.ts) into the compact table the
// filters run, `{ byteClasses, transitions, accepting }`, with state 0 as the start. Bytes that
// every edge treats alike share a class, so the table has states x classes entries, not x 256.
// A pattern that needs more than MAX_DFA_STATES states is an error, never a silently huge table.
import type { Nfa, NfaEdge } from './nfa.ts';
import type { ByteSet } from './regex-syntax.ts';

export const MAX_DFA_STATES = 4096;

export interface DfaTable {
  readonly stateCount: number;
  readonly classCount: number;
  /** byte -> class, 256 entries. */
  readonly byteClasses: Uint8Array;
  /** Row-major: transitions[state * classCount + class] = next state. */
  readonly transitions: Uint16Array;
  /** 1 where the state accepts: the input read so far (as a whole) matches. */
  readonly accepting: Uint8Array;
}

export class DfaTooLargeError extends Error {}

export function buildMinimalDfa(nfa: Nfa): DfaTable {
  const classes = computeByteClasses(nfa);
  const raw = subsetConstruction(nfa, classes);
  const minimal = minimise(raw);
  return compressClasses(renumberFromStart(minimal));
}

/** Runs the table over the whole input; true when it ends in an accepting state. */
export function dfaMatches(table: DfaTable, input: Uint8Array | string): boolean {
  const bytes = typeof input === 'string' ? new TextEncoder().encode(input) : input;
  let state = 0;
  for (const byte of bytes) state = table.transitions[state * table.classCount + (table.byteClasses[byte] ?? 0)] ?? 0;
  return table.accepting[state] === 1;
}

interface RawDfa {
  stateCount: number;
  classCount: number;
  byteClasses: Uint8Array;
  transitions: number[]; // stateCount * classCount
  accepting: number[];
}

function computeByteClasses(nfa: Nfa): { byteClasses: Uint8Array; classCount: number; representative: number[] } {
  const sets = new Set<ByteSet>();
  for (const edges of nfa.edges) for (const edge of edges) if (edge.kind === 'byte') sets.add(edge.set);
  const distinct = new Map<string, ByteSet>();
  for (const set of sets) distinct.set(set.join(''), set);
  const signatures = new Array<string>(256).fill('');
  for (const set of distinct.values()) for (let b = 0; b < 256; b++) signatures[b] += set[b] === 1 ? '1' : '0';
  const classOf = new Map<string, number>();
  const byteClasses = new Uint8Array(256);
  const representative: number[] = [];
  for (let b = 0; b < 256; b++) {
    const signature = signatures[b] ?? '';
    let cls = classOf.get(signature);
    if (cls === undefined) {
      cls = classOf.size;
      classOf.set(signature, cls);
      representative.push(b);
    }
    byteClasses[b] = cls;
  }
  return { byteClasses, classCount: classOf.size, representative };
}

function subsetConstruction(nfa: Nfa, classes: ReturnType<typeof computeByteClasses>): RawDfa {
  const startSet = closure(nfa, [nfa.start], { start: true, end: false });
  const sets: number[][] = [startSet];
  const atStart: boolean[] = [true];
  const index = new Map<string, number>([[`start:${startSet.join(',')}`, 0]]);
  const transitions: number[] = [];
  for (let state = 0; state < sets.length; state++) {
    const current = sets[state] ?? [];
    for (let cls = 0; cls < classes.classCount; cls++) {
      const byte = classes.representative[cls] ?? 0;
      const next = closure(nfa, step(nfa, current, byte), { start: false, end: false });
      const key = next.join(',');
      let target = index.get(key);
      if (target === undefined) {
        if (sets.length >= MAX_DFA_STATES) throw new DfaTooLargeError(`the regex needs more than ${MAX_DFA_STATES} DFA states`);
        target = sets.length;
        index.set(key, target);
        sets.push(next);
        atStart.push(false);
      }
      transitions.push(target);
    }
  }
  const accepting = sets.map((set, state) =>
    closure(nfa, set, { start: atStart[state] === true, end: true }).includes(nfa.accept) ? 1 : 0,
  );
  return { stateCount: sets.length, classCount: classes.classCount, byteClasses: classes.byteClasses, transitions, accepting };
}

/** States reachable through epsilons, and through `^`/`$` where those hold. Sorted. */
function closure(nfa: Nfa, seeds: readonly number[], holds: { start: boolean; end: boolean }): number[] {
  const seen = new Set<number>(seeds);
  const stack = [...seeds];
  while (stack.length > 0) {
    const state = stack.pop() as number;
    for (const edge of nfa.edges[state] ?? []) {
      if (!followsWithoutInput(edge, holds) || seen.has(edge.to)) continue;
      seen.add(edge.to);
      stack.push(edge.to);
    }
  }
  return [...seen].sort((a, b) => a - b);
}

function followsWithoutInput(edge: NfaEdge, holds: { start: boolean; end: boolean }): boolean {
  if (edge.kind === 'epsilon') return true;
  if (edge.kind === 'assert') return edge.at === 'start' ? holds.start : holds.end;
  return false;
}

function step(nfa: Nfa, states: readonly number[], byte: number): number[] {
  const next = new Set<number>();
  for (const state of states) {
    for (const edge of nfa.edges[state] ?? []) if (edge.kind === 'byte' && edge.set[byte] === 1) next.add(edge.to);
  }
  return [...next];
}

/** Moore's partition refinement: merge states no input can tell apart. */
function minimise(dfa: RawDfa): RawDfa {
  let block = dfa.accepting.slice();
  let blockCount = new Set(block).size;
  for (;;) {
    const signatureToBlock = new Map<string, number>();
    const next: number[] = [];
    for (let state = 0; state < dfa.stateCount; state++) {
      const parts = [block[state]];
      for (let cls = 0; cls < dfa.classCount; cls++) parts.push(block[dfa.transitions[state * dfa.classCount + cls] ?? 0]);
      const signature = parts.join(',');
      let id = signatureToBlock.get(signature);
      if (id === undefined) signatureToBlock.set(signature, (id = signatureToBlock.size));
      next.push(id);
    }
    block = next;
    if (signatureToBlock.size === blockCount) break;
    blockCount = signatureToBlock.size;
  }
  const transitions = new Array<number>(blockCount * dfa.classCount).fill(0);
  const accepting = new Array<number>(blockCount).fill(0);
  for (let state = 0; state < dfa.stateCount; state++) {
    const b = block[state] ?? 0;
    accepting[b] = dfa.accepting[state] ?? 0;
    for (let cls = 0; cls < dfa.classCount; cls++) {
      transitions[b * dfa.classCount + cls] = block[dfa.transitions[state * dfa.classCount + cls] ?? 0] ?? 0;
    }
  }
  // Keep the start state's block first so renumbering starts from it.
  return { ...dfa, stateCount: blockCount, transitions, accepting, startBlock: block[0] ?? 0 } as RawDfa & { startBlock: number };
}

/** Breadth-first numbering from the start state: deterministic and start = 0. */
function renumberFromStart(dfa: RawDfa): RawDfa {
  const start = (dfa as RawDfa & { startBlock?: number }).startBlock ?? 0;
  const order = [start];
  const newIndex = new Map<number, number>([[start, 0]]);
  for (let i = 0; i < order.length; i++) {
    const state = order[i] ?? 0;
    for (let cls = 0; cls < dfa.classCount; cls++) {
      const target = dfa.transitions[state * dfa.classCount + cls] ?? 0;
      if (!newIndex.has(target)) {
        newIndex.set(target, order.length);
        order.push(target);
      }
    }
  }
  const transitions: number[] = [];
  for (const state of order) {
    for (let cls = 0; cls < dfa.classCount; cls++) transitions.push(newIndex.get(dfa.transitions[state * dfa.classCount + cls] ?? 0) ?? 0);
  }
  return { ...dfa, stateCount: order.length, transitions, accepting: order.map((state) => dfa.accepting[state] ?? 0) };
}

/** Merges byte classes whose columns are identical after minimisation, numbering them by first byte. */
function compressClasses(dfa: RawDfa): DfaTable {
  const columnKey = (cls: number): string => {
    const column: number[] = [];
    for (let state = 0; state < dfa.stateCount; state++) column.push(dfa.transitions[state * dfa.classCount + cls] ?? 0);
    return column.join(',');
  };
  const newClassOfKey = new Map<string, number>();
  const oldToNew = new Map<number, number>();
  const keptOld: number[] = [];
  const byteClasses = new Uint8Array(256);
  for (let b = 0; b < 256; b++) {
    const old = dfa.byteClasses[b] ?? 0;
    let cls = oldToNew.get(old);
    if (cls === undefined) {
      const key = columnKey(old);
      cls = newClassOfKey.get(key);
      if (cls === undefined) {
        cls = newClassOfKey.size;
        newClassOfKey.set(key, cls);
        keptOld.push(old);
      }
      oldToNew.set(old, cls);
    }
    byteClasses[b] = cls;
  }
  const classCount = keptOld.length;
  const transitions = new Uint16Array(dfa.stateCount * classCount);
  for (let state = 0; state < dfa.stateCount; state++) {
    keptOld.forEach((old, cls) => (transitions[state * classCount + cls] = dfa.transitions[state * dfa.classCount + old] ?? 0));
  }
  return { stateCount: dfa.stateCount, classCount, byteClasses, transitions, accepting: Uint8Array.from(dfa.accepting) };
}
