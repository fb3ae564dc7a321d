// Runs a regex the control server compiled into a DFA table (layout in docs/parser-sdk.md
// "Regex constraints"): linear time, no backtracking, no allocation. The table is validated once,
// when the configuration is read (fromParts), which is what makes the unchecked loads below safe.

export const DFA_DEAD: i32 = -1;

export class Dfa {
  private constructor(
    private classOfByte: StaticArray<u8>, // 256 entries, each < classCount
    private classCount: i32,
    private transitions: StaticArray<i32>, // stateCount * classCount entries, each DFA_DEAD or < stateCount
    private stateCount: i32,
    private startState: i32,
    private accepting: StaticArray<bool>, // stateCount entries
  ) {}

  // Builds a DFA from decoded JSON parts, or returns null and leaves the reason in `problem`.
  static fromParts(classes: Array<i32>, classCount: i32, transitions: Array<i32>, accepting: Array<i32>, start: i32, problem: Array<string>): Dfa | null {
    if (classCount < 1 || classCount > 256) return rejectDfa(problem, 'classCount must be 1..256');
    if (classes.length != 256) return rejectDfa(problem, 'classes must have 256 entries (one per byte value)');
    if (transitions.length == 0 || transitions.length % classCount != 0) return rejectDfa(problem, 'transitions length must be a non-zero multiple of classCount');
    const stateCount = transitions.length / classCount;
    if (start < 0 || start >= stateCount) return rejectDfa(problem, 'start must name a state');
    const classOfByte = new StaticArray<u8>(256);
    for (let b = 0; b < 256; b++) {
      const cls = classes[b];
      if (cls < 0 || cls >= classCount) return rejectDfa(problem, 'classes[' + b.toString() + '] is outside 0..classCount-1');
      classOfByte[b] = <u8>cls;
    }
    const table = new StaticArray<i32>(transitions.length);
    for (let i = 0; i < transitions.length; i++) {
      const next = transitions[i];
      if (next < DFA_DEAD || next >= stateCount) return rejectDfa(problem, 'transitions[' + i.toString() + '] is neither -1 nor a state');
      table[i] = next;
    }
    const acceptingStates = new StaticArray<bool>(stateCount);
    for (let i = 0; i < accepting.length; i++) {
      const state = accepting[i];
      if (state < 0 || state >= stateCount) return rejectDfa(problem, 'accepting[' + i.toString() + '] is not a state');
      acceptingStates[state] = true;
    }
    return new Dfa(classOfByte, classCount, table, stateCount, start, acceptingStates);
  }

  // True when the DFA, run over all `length` bytes at `pointer`, ends in an accepting state.
  matches(pointer: usize, length: i32): bool {
    let state = this.startState;
    for (let i = 0; i < length; i++) {
      const byte = load<u8>(pointer + <usize>i);
      // safe: byte < 256 == classOfByte.length
      const cls = <i32>unchecked(this.classOfByte[byte]);
      // safe: fromParts proved state < stateCount and cls < classCount, so the index is inside
      // transitions (stateCount * classCount entries)
      state = unchecked(this.transitions[state * this.classCount + cls]);
      if (state == DFA_DEAD) return false;
    }
    // safe: state is startState or a validated transition target, both < stateCount
    return unchecked(this.accepting[state]);
  }
}

function rejectDfa(problem: Array<string>, reason: string): Dfa | null {
  problem.push(reason);
  return null;
}
