import { describe, expect, it } from 'vitest';
import { compileRegex, escapeRegexLiteral, toSdkDfaJson } from '../../../../server/policy/regex/compile-regex.ts';
import { dfaMatches, MAX_DFA_STATES, type DfaTable } from '../../../../server/policy/regex/dfa.ts';

function dfaOf(source: string): DfaTable {
  const result = compileRegex(source);
  if (!result.ok) throw new Error(result.reason);
  return result.dfa;
}

/** A small deterministic PRNG so failures reproduce. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state * 1664525 + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
}

const ATOMS = ['a', 'b', 'c', '.', '[ab]', '[^a]', '\\d', '\\w', '\\s', '[a-c0-2]', 'x', '\\.', '0', ' '];

function randomRegex(next: () => number, depth: number): string {
  const pick = <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)] as T;
  if (depth <= 0) return pick(ATOMS);
  switch (Math.floor(next() * 7)) {
    case 0:
      return randomRegex(next, depth - 1) + randomRegex(next, depth - 1);
    case 1:
      return `(${randomRegex(next, depth - 1)}|${randomRegex(next, depth - 1)})`;
    case 2:
      return `(${randomRegex(next, depth - 1)})${pick(['*', '+', '?', '{2}', '{1,3}', '{0,}', '*?'])}`;
    case 3:
      return `^${randomRegex(next, depth - 1)}`;
    case 4:
      return `${randomRegex(next, depth - 1)}$`;
    default:
      return randomRegex(next, depth - 1) + pick(ATOMS);
  }
}

function randomInput(next: () => number): string {
  // No \r, \v or non-ASCII: there JS RegExp (`.` and \s) differs from Go, whose semantics Weir keeps.
  const alphabet = 'abcx0129. \n_-';
  const length = Math.floor(next() * 9);
  let text = '';
  for (let i = 0; i < length; i++) text += alphabet[Math.floor(next() * alphabet.length)];
  return text;
}

describe('regex to DFA', () => {
  it('agrees with JavaScript RegExp (unanchored search) on 400 generated regexes x 60 inputs', () => {
    const next = random(20240601);
    let compared = 0;
    for (let r = 0; r < 400; r++) {
      const source = randomRegex(next, 3);
      const dfa = dfaOf(source);
      const reference = new RegExp(source);
      for (let i = 0; i < 60; i++) {
        const input = randomInput(next);
        const expected = reference.test(input);
        if (dfaMatches(dfa, input) !== expected) throw new Error(`regex ${JSON.stringify(source)} on ${JSON.stringify(input)}: expected ${expected}`);
        compared++;
      }
    }
    expect(compared).toBe(24000);
  });

  it('searches unanchored unless ^ or $ anchor it, as Go MatchString does', () => {
    expect(dfaMatches(dfaOf('db1.*'), 'xdb1y.t')).toBe(true);
    expect(dfaMatches(dfaOf('^db1'), 'xdb1')).toBe(false);
    expect(dfaMatches(dfaOf('^posts_db.posts$'), 'posts_db.posts')).toBe(true);
    expect(dfaMatches(dfaOf('^posts_db.posts$'), 'posts_db.posts2')).toBe(false);
    expect(dfaMatches(dfaOf('a$'), 'ba')).toBe(true);
    expect(dfaMatches(dfaOf('a$'), 'ab')).toBe(false);
    expect(dfaMatches(dfaOf(''), 'anything')).toBe(true);
    expect(dfaMatches(dfaOf('\\Aab\\z'), 'ab')).toBe(true);
    expect(dfaMatches(dfaOf('\\Aab\\z'), 'abc')).toBe(false);
  });

  it('uses Go semantics where JavaScript differs: . matches \\r, \\s excludes \\v', () => {
    expect(dfaMatches(dfaOf('^a.b$'), 'a\rb')).toBe(true);
    expect(dfaMatches(dfaOf('^a.b$'), 'a\nb')).toBe(false);
    expect(dfaMatches(dfaOf('\\s'), '\v')).toBe(false);
    expect(dfaMatches(dfaOf('[^a]'), '\n')).toBe(true);
  });

  it('matches non-ASCII literals as their UTF-8 bytes', () => {
    expect(dfaMatches(dfaOf('^café$'), 'café')).toBe(true);
    expect(dfaMatches(dfaOf('^(é)+$'), 'éé')).toBe(true);
    expect(dfaMatches(dfaOf('^(é)+$'), 'e')).toBe(false);
  });

  it('supports bounded repeats, escapes, hex escapes, named and non-capturing groups, literal {', () => {
    expect(dfaMatches(dfaOf('^a{2,3}$'), 'aaa')).toBe(true);
    expect(dfaMatches(dfaOf('^a{2,3}$'), 'aaaa')).toBe(false);
    expect(dfaMatches(dfaOf('^\\x41\\t$'), 'A\t')).toBe(true);
    expect(dfaMatches(dfaOf('^(?:ab|cd)(?P<n>e)$'), 'cde')).toBe(true);
    expect(dfaMatches(dfaOf('^a{,2}$'), 'a{,2}')).toBe(true);
  });

  it('produces a minimal table: an exact literal needs one state per byte plus accept and dead', () => {
    const dfa = dfaOf('^abc$');
    expect(dfa.stateCount).toBe(5);
    expect(dfa.classCount).toBe(4); // a, b, c, everything else
    expect(dfa.transitions).toBeInstanceOf(Uint16Array);
    expect(dfa.accepting).toBeInstanceOf(Uint8Array);
    expect(dfa.transitions.length).toBe(dfa.stateCount * dfa.classCount);
  });

  it('converts to the filter SDK shape, with the dead state as -1', () => {
    const json = toSdkDfaJson(dfaOf('^ab'));
    expect(json.classes).toHaveLength(256);
    expect(json.start).toBe(0);
    expect(json.transitions).toContain(-1);
    expect(json.accepting.length).toBeGreaterThan(0);
  });

  it('rejects unsupported constructs by name', () => {
    const reasons: Record<string, string> = {
      '(?=a)': 'lookahead "(?=" is not supported at offset 0',
      '(?<!a)b': 'lookbehind "(?<!" is not supported at offset 0',
      '(a)\\1': 'backreference "\\1" is not supported at offset 3',
      '(?i)abc': 'flag group "(?i)" is not supported at offset 0',
      '\\bword': 'word boundary \\b is not supported at offset 0',
      '\\p{Greek}': 'Unicode class \\p is not supported at offset 0',
      '[[:alpha:]]': 'POSIX class "[:name:]" is not supported at offset 1',
      '[é]': 'non-ASCII character inside a character class is not supported at offset 1',
      'a**': 'nested repetition operator (e.g. "a**") is not allowed at offset 2',
      'a++': 'possessive quantifier is not supported at offset 2',
      '*a': 'missing argument to repetition operator "*" at offset 0',
      'a{1001}': 'repeat count above 1000 in "{1001}" at offset 1',
      'a{3,2}': 'invalid repeat "{3,2}" (max below min) at offset 1',
      '(ab': 'missing closing ")" at offset 0',
      'ab)': 'unmatched ")" at offset 2',
      '[ab': 'missing closing "]" at offset 0',
      'a\\': 'trailing backslash at offset 1',
      '\\q': 'unknown escape "\\q" at offset 0',
    };
    for (const [source, reason] of Object.entries(reasons)) {
      const result = compileRegex(source);
      expect(result.ok ? 'compiled' : result.reason).toBe(
        `invalid regex ${JSON.stringify(source)}: ${reason}; see docs/policy.md "Regular expressions" for the supported syntax`,
      );
    }
  });

  it(`rejects a regex whose DFA needs more than ${MAX_DFA_STATES} states`, () => {
    const result = compileRegex('a.{12}$');
    expect(result.ok ? 'compiled' : result.reason).toMatch(/^regex "a\.\{12\}\$" is too complex: the regex needs more than 4096 DFA states/);
  });

  it('escapes literals so they match only themselves', () => {
    const dfa = dfaOf(`^${escapeRegexLiteral('a.b*(c)[d]{e}|f$^\\-')}$`);
    expect(dfaMatches(dfa, 'a.b*(c)[d]{e}|f$^\\-')).toBe(true);
    expect(dfaMatches(dfa, 'axb*(c)[d]{e}|f$^\\-')).toBe(false);
  });
});
