// The L7 policy matcher: rules arrive as data in the plugin configuration (see
// docs/parser-sdk.md "Rules"), a rule is a set of key constraints (exact bytes, or a DFA table the
// control server compiled from a regex), and a request is allowed when any rule's constraints all
// hold for the request record the parser decoded. Parsing rules from JSON is in rule-config.ts;
// the DFA runner is in dfa.ts. Matching allocates nothing.
import { ByteView } from './byte-view';
import { Dfa } from './dfa';

export const enum ConstraintKind {
  Exact = 0,
  Regex = 1,
}

export class Constraint {
  constructor(
    public key: i32,
    public kind: ConstraintKind,
    public exact: ArrayBuffer | null,
    public dfa: Dfa | null,
  ) {}

  // True when the `length` bytes at `pointer` satisfy this constraint.
  holdsFor(pointer: usize, length: i32): bool {
    if (this.kind == ConstraintKind.Exact) {
      const expected = this.exact;
      if (expected === null || expected.byteLength != length) return false;
      return memory.compare(changetype<usize>(expected), pointer, <usize>length) == 0;
    }
    const dfa = this.dfa;
    return dfa !== null && dfa.matches(pointer, length);
  }

  // The exact value as a string (Latin-1), for rule validation; '' for regex constraints.
  exactText(): string {
    const expected = this.exact;
    if (expected === null) return '';
    let text = '';
    const bytes = Uint8Array.wrap(expected);
    for (let i = 0; i < bytes.length; i++) text += String.fromCharCode(bytes[i]);
    return text;
  }
}

export class Rule {
  constraints: Array<Constraint> = new Array<Constraint>();

  constraintOn(key: i32): Constraint | null {
    for (let i = 0; i < this.constraints.length; i++) {
      const constraint = this.constraints[i];
      if (constraint.key == key) return constraint;
    }
    return null;
  }
}

// The fields a parser decoded from one request: for each rule key, a byte range inside the
// current `data` view, or absent. Valid only during the onData call that filled it.
export class RequestRecord {
  private pointers: StaticArray<usize>;
  private lengths: StaticArray<i32>;

  constructor(public keyCount: i32) {
    this.pointers = new StaticArray<usize>(keyCount);
    this.lengths = new StaticArray<i32>(keyCount);
    this.clear();
  }

  clear(): void {
    for (let key = 0; key < this.keyCount; key++) this.lengths[key] = -1;
  }

  // Records bytes [offset, offset + length) of `view` as the value of `key`; ignored when the
  // range is outside the view or the key unknown.
  set(key: i32, view: ByteView, offset: i32, length: i32): void {
    if (<u32>key >= <u32>this.keyCount || !view.has(offset, length)) return;
    this.pointers[key] = view.pointer + <usize>offset;
    this.lengths[key] = length;
  }

  has(key: i32): bool {
    return <u32>key < <u32>this.keyCount && this.lengths[key] >= 0;
  }

  pointerOf(key: i32): usize {
    return this.has(key) ? this.pointers[key] : 0;
  }

  lengthOf(key: i32): i32 {
    return this.has(key) ? this.lengths[key] : -1;
  }
}

export class RuleSet {
  rules: Array<Rule> = new Array<Rule>();

  // Allow-list semantics: true when some rule has all its constraints satisfied by `record`
  // (a rule without constraints allows everything; an empty set allows nothing).
  allows(record: RequestRecord): bool {
    for (let r = 0; r < this.rules.length; r++) {
      if (ruleHolds(this.rules[r], record)) return true;
    }
    return false;
  }
}

// What a protocol accepts as rules: its key names (the index is the key id used in
// RequestRecord) and its own cross-key checks, overridden per parser.
export class RuleSchema {
  constructor(public keys: Array<string>) {}

  keyId(name: string): i32 {
    for (let i = 0; i < this.keys.length; i++) if (this.keys[i] == name) return i;
    return -1;
  }

  // Returns null when the rule is valid, else what is wrong (e.g. an unknown command).
  validateRule(rule: Rule): string | null {
    return null;
  }
}

function ruleHolds(rule: Rule, record: RequestRecord): bool {
  for (let c = 0; c < rule.constraints.length; c++) {
    const constraint = rule.constraints[c];
    if (!record.has(constraint.key)) return false;
    if (!constraint.holdsFor(record.pointerOf(constraint.key), record.lengthOf(constraint.key))) return false;
  }
  return true;
}
