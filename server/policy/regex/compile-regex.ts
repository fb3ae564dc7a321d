// The one entry point for regexes in policy: source text in, a DFA table or a readable reason out.
// Semantics are Cilium's: for the l7proto parsers Go regexp MatchString, an unanchored search
// unless `^`/`$` anchor it (compileRegex); for HTTP rules Envoy's RE2 full match, the whole value
// (compileWholeValueRegex). Also converts a table to the JSON shape the filter SDK reads
// (filters/sdk/rule-config.ts).
import { buildMinimalDfa, DfaTooLargeError, type DfaTable } from './dfa.ts';
import { buildSearchNfa, NfaTooLargeError } from './nfa.ts';
import { parseRegex, RegexSyntaxError, type RegexNode } from './regex-syntax.ts';

export type RegexCompileResult = { ok: true; dfa: DfaTable } | { ok: false; reason: string };

export function compileRegex(source: string): RegexCompileResult {
  return compileParsed(source, (root) => root);
}

/**
 * A regex that must match the whole value, as RE2's FullMatch: the parsed pattern between a start
 * and an end assertion (the tree is wrapped, not the text, so `a)|(b` stays an error).
 */
export function compileWholeValueRegex(source: string): RegexCompileResult {
  return compileParsed(source, (root) => ({ kind: 'concat', items: [{ kind: 'assertion', at: 'start' }, root, { kind: 'assertion', at: 'end' }] }));
}

function compileParsed(source: string, shape: (root: RegexNode) => RegexNode): RegexCompileResult {
  try {
    return { ok: true, dfa: buildMinimalDfa(buildSearchNfa(shape(parseRegex(source)))) };
  } catch (error) {
    if (error instanceof RegexSyntaxError) {
      return { ok: false, reason: `invalid regex ${JSON.stringify(source)}: ${error.message}; see docs/policy.md "Regular expressions" for the supported syntax` };
    }
    if (error instanceof DfaTooLargeError || error instanceof NfaTooLargeError) {
      return { ok: false, reason: `regex ${JSON.stringify(source)} is too complex: ${error.message}; simplify it, e.g. smaller {n,m} bounds` };
    }
    throw error;
  }
}

/** Escapes text so it matches literally inside a regex. */
export function escapeRegexLiteral(text: string): string {
  return text.replace(/[\\^$.|?*+()[\]{}-]/g, (c) => `\\${c}`);
}

/** The SDK's JSON form: dead (non-accepting sink) state references become -1, accepting is a state list. */
export interface SdkDfaJson {
  readonly classCount: number;
  readonly classes: number[];
  readonly transitions: number[];
  readonly accepting: number[];
  readonly start: number;
}

export function toSdkDfaJson(dfa: DfaTable): SdkDfaJson {
  const dead = findDeadState(dfa);
  const transitions = Array.from(dfa.transitions, (next) => (next === dead ? -1 : next));
  const accepting: number[] = [];
  dfa.accepting.forEach((flag, state) => flag === 1 && accepting.push(state));
  return { classCount: dfa.classCount, classes: Array.from(dfa.byteClasses), transitions, accepting, start: 0 };
}

function findDeadState(dfa: DfaTable): number {
  for (let state = 1; state < dfa.stateCount; state++) {
    if (dfa.accepting[state] === 1) continue;
    let sink = true;
    for (let cls = 0; cls < dfa.classCount && sink; cls++) sink = dfa.transitions[state * dfa.classCount + cls] === state;
    if (sink) return state;
  }
  return -1;
}
