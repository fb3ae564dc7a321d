// The L7 policy matcher: rules arrive as data in the plugin configuration (see
// docs/parser-sdk.md "Rules"), a rule is a set of key constraints (exact bytes, or a DFA table the
// control server compiled from a regex, a set of exact values, or a prefix), and a request is
// allowed when any rule's constraints all hold for the request record the parser decoded. A key
// may carry several values (memcached's multi-key get): a constraint then holds only when it
// holds for every value. Parsing rules from JSON is in rule-config.ts; the DFA runner is in
// dfa.ts. Matching allocates nothing.
import { ByteView } from '../bytes/byte-view';
import { Dfa } from './dfa';

export const enum ConstraintKind {
  Exact = 0,
  Regex = 1,
  Set = 2, // the value equals one of `members`
  Prefix = 3, // the value starts with `exact`
  Present = 4, // any value: the key only has to be there (an HTTP header named without a value)
}

export class Constraint {
  // Set constraints: the accepted values (exact bytes each).
  members: Array<ArrayBuffer> = new Array<ArrayBuffer>();

  constructor(
    public key: i32,
    public kind: ConstraintKind,
    public exact: ArrayBuffer | null,
    public dfa: Dfa | null,
  ) {}

  // True when the `length` bytes at `pointer` satisfy this constraint.
  holdsFor(pointer: usize, length: i32): bool {
    if (this.kind == ConstraintKind.Exact) return bytesEqual(this.exact, pointer, length);
    if (this.kind == ConstraintKind.Set) {
      for (let i = 0; i < this.members.length; i++) if (bytesEqual(this.members[i], pointer, length)) return true;
      return false;
    }
    if (this.kind == ConstraintKind.Prefix) {
      const prefix = this.exact;
      if (prefix === null || prefix.byteLength > length) return false;
      return memory.compare(changetype<usize>(prefix), pointer, <usize>prefix.byteLength) == 0;
    }
    if (this.kind == ConstraintKind.Present) return true;
    const dfa = this.dfa;
    return dfa !== null && dfa.matches(pointer, length);
  }

  // Set constraints: true when `text` (ASCII) is one of the members, for rule validation.
  hasMember(text: string): bool {
    for (let i = 0; i < this.members.length; i++) if (bufferText(this.members[i]) == text) return true;
    return false;
  }

  // The exact value (or prefix) as a string (Latin-1), for rule validation; '' for regex and
  // set constraints.
  exactText(): string {
    const expected = this.exact;
    return expected === null ? '' : bufferText(expected);
  }
}

function bytesEqual(expected: ArrayBuffer | null, pointer: usize, length: i32): bool {
  if (expected === null || expected.byteLength != length) return false;
  return memory.compare(changetype<usize>(expected), pointer, <usize>length) == 0;
}

function bufferText(bytes: ArrayBuffer): string {
  let text = '';
  const view = Uint8Array.wrap(bytes);
  for (let i = 0; i < view.length; i++) text += String.fromCharCode(view[i]);
  return text;
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
// current `data` view (or another view the parser owns), or absent; add() gives a key further
// values. Valid only during the onData call that filled it.
// RequestRecord length of a key set with setUnconstrained().
const UNCONSTRAINED: i32 = -2;

export class RequestRecord {
  private pointers: StaticArray<usize>;
  private lengths: StaticArray<i32>;
  // Values after the first of a key, in add() order; grown by doubling, reused across requests.
  private extraKeys: StaticArray<i32> = new StaticArray<i32>(0);
  private extraPointers: StaticArray<usize> = new StaticArray<usize>(0);
  private extraLengths: StaticArray<i32> = new StaticArray<i32>(0);
  private extraCount: i32 = 0;

  constructor(public keyCount: i32) {
    this.pointers = new StaticArray<usize>(keyCount);
    this.lengths = new StaticArray<i32>(keyCount);
    this.clear();
  }

  clear(): void {
    for (let key = 0; key < this.keyCount; key++) this.lengths[key] = -1;
    this.extraCount = 0;
  }

  // The request names no value of `key`'s kind and the protocol says a constraint on the key
  // does not apply to it: every constraint on the key holds (Cilium's Kafka rules: a topic rule
  // still allows a request that names no topic, such as JoinGroup). has(key) stays false.
  setUnconstrained(key: i32): void {
    if (<u32>key >= <u32>this.keyCount) return;
    this.lengths[key] = UNCONSTRAINED;
  }

  // Records bytes [offset, offset + length) of `view` as one more value of `key` (the first
  // value when the key has none yet); ignored like set(). Allocates only when the record grows
  // past the most values it has held before.
  add(key: i32, view: ByteView, offset: i32, length: i32): void {
    if (<u32>key >= <u32>this.keyCount || !view.has(offset, length)) return;
    if (this.lengths[key] < 0) {
      this.set(key, view, offset, length);
      return;
    }
    if (this.extraCount == this.extraKeys.length) this.growExtras();
    const slot = this.extraCount;
    this.extraKeys[slot] = key;
    this.extraPointers[slot] = view.pointer + <usize>offset;
    this.extraLengths[slot] = length;
    this.extraCount = slot + 1;
  }

  // How many values `key` has (0 when absent).
  valueCount(key: i32): i32 {
    if (!this.has(key)) return 0;
    let count = 1;
    for (let i = 0; i < this.extraCount; i++) if (this.extraKeys[i] == key) count++;
    return count;
  }

  // True when `constraint` holds for every value of its key (false when the key is absent, true
  // when it is unconstrained).
  everyValueSatisfies(constraint: Constraint): bool {
    const key = constraint.key;
    if (<u32>key < <u32>this.keyCount && this.lengths[key] == UNCONSTRAINED) return true;
    if (!this.has(key)) return false;
    if (!constraint.holdsFor(this.pointers[key], this.lengths[key])) return false;
    for (let i = 0; i < this.extraCount; i++) {
      if (this.extraKeys[i] == key && !constraint.holdsFor(this.extraPointers[i], this.extraLengths[i])) return false;
    }
    return true;
  }

  private growExtras(): void {
    const capacity = this.extraKeys.length < 8 ? 8 : this.extraKeys.length * 2;
    const keys = new StaticArray<i32>(capacity);
    const pointers = new StaticArray<usize>(capacity);
    const lengths = new StaticArray<i32>(capacity);
    for (let i = 0; i < this.extraCount; i++) {
      keys[i] = this.extraKeys[i];
      pointers[i] = this.extraPointers[i];
      lengths[i] = this.extraLengths[i];
    }
    this.extraKeys = keys;
    this.extraPointers = pointers;
    this.extraLengths = lengths;
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

  // The `index`-th value of `key` (0: the first; add() order), for logging every value.
  pointerOfValue(key: i32, index: i32): usize {
    const slot = this.extraSlot(key, index);
    return slot < 0 ? this.pointerOf(key) : this.extraPointers[slot];
  }

  lengthOfValue(key: i32, index: i32): i32 {
    const slot = this.extraSlot(key, index);
    return slot < 0 ? this.lengthOf(key) : this.extraLengths[slot];
  }

  // Where the `index`-th value (index >= 1) of `key` is among the extra values; -1 for the first.
  private extraSlot(key: i32, index: i32): i32 {
    let seen = 0;
    for (let i = 0; i < this.extraCount && index > 0; i++) {
      if (this.extraKeys[i] != key) continue;
      if (++seen == index) return i;
    }
    return -1;
  }
}

export class RuleSet {
  rules: Array<Rule> = new Array<Rule>();

  // Allow-list semantics: true when some rule has all its constraints satisfied by `record`
  // (a rule without constraints allows everything; an empty set allows nothing).
  allows(record: RequestRecord): bool {
    return this.matchingRule(record) >= 0;
  }

  // The index of the first rule whose constraints all hold for `record`, or -1 (for the access
  // log's "rule that allowed it").
  matchingRule(record: RequestRecord): i32 {
    for (let r = 0; r < this.rules.length; r++) {
      if (ruleHolds(this.rules[r], record)) return r;
    }
    return -1;
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

  // Fields of a constraint object on `key` whose array elements are further members of a set
  // constraint, besides "set" itself: a protocol's own shape of a set, such as memcache's
  // {"exact": "get", "textCommands": [...], "binaryOpcodes": [...]} written by the control server.
  setFields(key: i32): Array<string> {
    return NO_SET_FIELDS;
  }

  // The value an element of set field `field` stands for (integers arrive as their decimal text),
  // or null when the element is invalid for this protocol.
  setMember(key: i32, field: string, element: string): string | null {
    return element;
  }
}

const NO_SET_FIELDS: Array<string> = [];

function ruleHolds(rule: Rule, record: RequestRecord): bool {
  for (let c = 0; c < rule.constraints.length; c++) {
    if (!record.everyValueSatisfies(rule.constraints[c])) return false;
  }
  return true;
}
