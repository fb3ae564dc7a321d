// Parses the regex subset Weir compiles to DFAs into a small syntax tree over bytes. Supported
// (RE2/Go syntax, byte semantics): literals, escapes, `.`, classes `[a-z]` and `[^...]`, `\d \w \s`
// and their negations, `^ $ \A \z`, groups `( )`, `(?: )`, `(?P<n> )`, alternation, `* + ?` and
// `{n}`, `{n,}`, `{n,m}` (lazy forms too; laziness does not change what matches). Everything else
// (backreferences, lookaround, `\b`, flags, Unicode classes) is an error naming the construct.
// The NFA/DFA construction is in nfa.ts and dfa.ts.

export type ByteSet = Uint8Array; // 256 entries, 1 = member

export type RegexNode =
  | { readonly kind: 'empty' }
  | { readonly kind: 'bytes'; readonly set: ByteSet }
  | { readonly kind: 'concat'; readonly items: readonly RegexNode[] }
  | { readonly kind: 'alternation'; readonly items: readonly RegexNode[] }
  | { readonly kind: 'repeat'; readonly item: RegexNode; readonly min: number; readonly max: number /* Infinity = unbounded */ }
  | { readonly kind: 'assertion'; readonly at: 'start' | 'end' };

export const MAX_REPEAT = 1000;

export class RegexSyntaxError extends Error {
  constructor(
    readonly reason: string,
    readonly offset: number,
  ) {
    super(`${reason} at offset ${offset}`);
    this.name = 'RegexSyntaxError';
  }
}

export function parseRegex(source: string): RegexNode {
  const parser = new RegexParser(source);
  const node = parser.parseAlternation();
  if (!parser.atEnd()) throw new RegexSyntaxError('unmatched ")"', parser.position);
  return node;
}

export function byteSetOf(predicate: (byte: number) => boolean): ByteSet {
  const set = new Uint8Array(256);
  for (let b = 0; b < 256; b++) set[b] = predicate(b) ? 1 : 0;
  return set;
}

const isDigit = (b: number): boolean => b >= 0x30 && b <= 0x39;
const isWord = (b: number): boolean => isDigit(b) || (b >= 0x41 && b <= 0x5a) || (b >= 0x61 && b <= 0x7a) || b === 0x5f;
const isSpace = (b: number): boolean => b === 0x09 || b === 0x0a || b === 0x0c || b === 0x0d || b === 0x20;

const PERL_CLASSES: Record<string, (b: number) => boolean> = {
  d: isDigit,
  D: (b) => !isDigit(b),
  w: isWord,
  W: (b) => !isWord(b),
  s: isSpace,
  S: (b) => !isSpace(b),
};

const CONTROL_ESCAPES: Record<string, number> = { a: 0x07, f: 0x0c, t: 0x09, n: 0x0a, r: 0x0d, v: 0x0b };

const UNSUPPORTED_ESCAPES: Record<string, string> = {
  b: 'word boundary \\b',
  B: 'non-word-boundary \\B',
  p: 'Unicode class \\p',
  P: 'Unicode class \\P',
  Q: 'quoted literal \\Q...\\E',
  C: 'single-byte escape \\C',
};

class RegexParser {
  position = 0;
  private readonly bytes: Uint8Array;

  constructor(private readonly source: string) {
    this.bytes = new TextEncoder().encode(source);
  }

  atEnd(): boolean {
    return this.position >= this.bytes.length;
  }

  parseAlternation(): RegexNode {
    const branches: RegexNode[] = [this.parseConcat()];
    while (this.peek() === '|') {
      this.position++;
      branches.push(this.parseConcat());
    }
    return branches.length === 1 ? (branches[0] as RegexNode) : { kind: 'alternation', items: branches };
  }

  private parseConcat(): RegexNode {
    const items: RegexNode[] = [];
    while (!this.atEnd() && this.peek() !== '|' && this.peek() !== ')') {
      items.push(this.parseQuantified());
    }
    if (items.length === 0) return { kind: 'empty' };
    return items.length === 1 ? (items[0] as RegexNode) : { kind: 'concat', items };
  }

  private parseQuantified(): RegexNode {
    const atomStart = this.position;
    let node = this.parseAtom();
    let quantified = false;
    for (;;) {
      const bounds = this.readQuantifier();
      if (bounds === undefined) return node;
      if (quantified) throw new RegexSyntaxError('nested repetition operator (e.g. "a**") is not allowed', this.position - 1);
      if (node.kind === 'assertion' || node.kind === 'empty') throw new RegexSyntaxError('nothing to repeat', atomStart);
      if (this.peek() === '?') this.position++; // lazy: same language
      else if (this.peek() === '+') throw new RegexSyntaxError('possessive quantifier is not supported', this.position);
      node = { kind: 'repeat', item: node, min: bounds.min, max: bounds.max };
      quantified = true;
    }
  }

  private readQuantifier(): { min: number; max: number } | undefined {
    const c = this.peek();
    if (c === '*') return this.advance({ min: 0, max: Infinity }, 1);
    if (c === '+') return this.advance({ min: 1, max: Infinity }, 1);
    if (c === '?') return this.advance({ min: 0, max: 1 }, 1);
    if (c !== '{') return undefined;
    const match = /^\{(\d+)(,(\d*))?\}/.exec(this.source.slice(this.charOffset()));
    if (match === null) return undefined; // Go treats an invalid `{` as a literal
    const min = Number(match[1]);
    const max = match[2] === undefined ? min : match[3] === '' ? Infinity : Number(match[3]);
    if (min > MAX_REPEAT || (max !== Infinity && max > MAX_REPEAT)) {
      throw new RegexSyntaxError(`repeat count above ${MAX_REPEAT} in "${match[0]}"`, this.position);
    }
    if (max < min) throw new RegexSyntaxError(`invalid repeat "${match[0]}" (max below min)`, this.position);
    return this.advance({ min, max }, match[0].length);
  }

  private parseAtom(): RegexNode {
    const c = this.peek();
    const at = this.position;
    if (c === '(') return this.parseGroup();
    if (c === '[') return { kind: 'bytes', set: this.parseClass() };
    if (c === '*' || c === '+' || c === '?' || (c === '{' && this.readQuantifier() !== undefined)) {
      throw new RegexSyntaxError(`missing argument to repetition operator "${c}"`, at);
    }
    this.position++;
    if (c === '.') return { kind: 'bytes', set: byteSetOf((b) => b !== 0x0a) };
    if (c === '^') return { kind: 'assertion', at: 'start' };
    if (c === '$') return { kind: 'assertion', at: 'end' };
    if (c === '\\') return this.parseEscape(at);
    return this.literalFrom(at);
  }

  private parseGroup(): RegexNode {
    const open = this.position;
    this.position++;
    if (this.peek() === '?') this.skipGroupPrefix(open);
    const inner = this.parseAlternation();
    if (this.peek() !== ')') throw new RegexSyntaxError('missing closing ")"', open);
    this.position++;
    return inner;
  }

  private skipGroupPrefix(open: number): void {
    const rest = this.source.slice(this.charOffset());
    const named = /^\?P?<[A-Za-z_][A-Za-z0-9_]*>/.exec(rest);
    if (rest.startsWith('?:')) this.position += 2;
    else if (named !== null) this.position += named[0].length;
    else if (rest.startsWith('?=') || rest.startsWith('?!')) throw new RegexSyntaxError(`lookahead "(${rest.slice(0, 2)}" is not supported`, open);
    else if (rest.startsWith('?<=') || rest.startsWith('?<!')) throw new RegexSyntaxError(`lookbehind "(${rest.slice(0, 3)}" is not supported`, open);
    else {
      const flags = /^\?[a-zA-Z-]*[:)]?/.exec(rest)?.[0] ?? '?';
      throw new RegexSyntaxError(`flag group "(${flags}" is not supported`, open);
    }
  }

  private parseEscape(at: number): RegexNode {
    if (this.atEnd()) throw new RegexSyntaxError('trailing backslash', at);
    const c = this.peek();
    if (/^[1-9]$/.test(c)) throw new RegexSyntaxError(`backreference "\\${c}" is not supported`, at);
    if (c === 'A') return this.advance({ kind: 'assertion', at: 'start' }, 1);
    if (c === 'z') return this.advance({ kind: 'assertion', at: 'end' }, 1);
    return { kind: 'bytes', set: this.escapeSet(at) };
  }

  /** An escape that stands for a set of bytes; shared by atoms and classes. Consumes it. */
  private escapeSet(at: number): ByteSet {
    const c = this.peek();
    const unsupported = UNSUPPORTED_ESCAPES[c];
    if (unsupported !== undefined) throw new RegexSyntaxError(`${unsupported} is not supported`, at);
    const perl = PERL_CLASSES[c];
    if (perl !== undefined) return this.advance(byteSetOf(perl), 1);
    const control = CONTROL_ESCAPES[c];
    if (control !== undefined) return this.advance(byteSetOf((b) => b === control), 1);
    if (c === 'x') {
      const value = this.readHexEscape(at);
      return byteSetOf((b) => b === value);
    }
    if (c === '0') return this.advance(byteSetOf((b) => b === 0), 1);
    if (/^[!-/:-@[-`{-~]$/.test(c)) return this.advance(byteSetOf((b) => b === c.charCodeAt(0)), 1);
    throw new RegexSyntaxError(`unknown escape "\\${c}"`, at);
  }

  private readHexEscape(at: number): number {
    const match = /^x([0-9A-Fa-f]{2}|\{[0-9A-Fa-f]{1,2}\})/.exec(this.source.slice(this.charOffset()));
    if (match === null) throw new RegexSyntaxError('invalid or non-byte hex escape (use \\xHH, 00..FF)', at);
    this.position += match[0].length;
    return parseInt((match[1] ?? '').replace(/[{}]/g, ''), 16);
  }

  private parseClass(): ByteSet {
    const open = this.position;
    this.position++;
    const negated = this.peek() === '^';
    if (negated) this.position++;
    const set = new Uint8Array(256);
    let first = true;
    while (!this.atEnd() && (this.peek() !== ']' || first)) {
      first = false;
      if (this.source.slice(this.charOffset()).startsWith('[:')) throw new RegexSyntaxError('POSIX class "[:name:]" is not supported', this.position);
      const low = this.classMember();
      if (this.peek() === '-' && this.peekAt(1) !== ']' && this.peekAt(1) !== '') {
        this.position++;
        const high = this.classMember();
        if (low.single === undefined || high.single === undefined) throw new RegexSyntaxError('invalid class range', this.position);
        if (high.single < low.single) throw new RegexSyntaxError('invalid class range (end before start)', this.position);
        for (let b = low.single; b <= high.single; b++) set[b] = 1;
      } else {
        low.set.forEach((member, b) => (set[b] = set[b] || member));
      }
    }
    if (this.atEnd()) throw new RegexSyntaxError('missing closing "]"', open);
    this.position++;
    if (negated) for (let b = 0; b < 256; b++) set[b] = set[b] === 1 ? 0 : 1; // Go's Perl flags include ClassNL: [^a] matches \n
    return set;
  }

  private classMember(): { set: ByteSet; single: number | undefined } {
    const at = this.position;
    const byte = this.bytes[this.position] ?? 0;
    if (byte >= 0x80) throw new RegexSyntaxError('non-ASCII character inside a character class is not supported', at);
    this.position++;
    if (byte !== 0x5c) return { set: byteSetOf((b) => b === byte), single: byte };
    if (this.atEnd()) throw new RegexSyntaxError('trailing backslash', at);
    const set = this.escapeSet(at);
    const members = set.reduce((count, member) => count + member, 0);
    return { set, single: members === 1 ? set.indexOf(1) : undefined };
  }

  private literalFrom(at: number): RegexNode {
    const byte = this.bytes[at] ?? 0;
    if (byte < 0x80) return { kind: 'bytes', set: byteSetOf((b) => b === byte) };
    // A UTF-8 sequence: its continuation bytes follow; match them as a byte string.
    const items: RegexNode[] = [{ kind: 'bytes', set: byteSetOf((b) => b === byte) }];
    while (!this.atEnd() && ((this.bytes[this.position] ?? 0) & 0xc0) === 0x80) {
      const continuation = this.bytes[this.position] ?? 0;
      items.push({ kind: 'bytes', set: byteSetOf((b) => b === continuation) });
      this.position++;
    }
    return { kind: 'concat', items };
  }

  private peek(): string {
    return this.peekAt(0);
  }

  private peekAt(distance: number): string {
    const byte = this.bytes[this.position + distance];
    return byte === undefined ? '' : String.fromCharCode(byte);
  }

  /** Offset in `source` (UTF-16) of the current byte; only used where the prefix is ASCII-safe. */
  private charOffset(): number {
    return new TextDecoder().decode(this.bytes.subarray(0, this.position)).length;
  }

  private advance<T>(value: T, count: number): T {
    this.position += count;
    return value;
  }
}
