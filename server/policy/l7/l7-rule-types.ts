// The contract between the policy validator and each parser's rule declarations: what a compiled
// L7 rule looks like, what a decoded request looks like to the reference matcher, and what a
// parser declares (its l7proto, keys, rule compiler and matcher). The registry is l7-rule-keys.ts.
import type { DfaTable } from '../regex/dfa.ts';

export type CompiledL7Constraint =
  | { readonly match: 'exact'; readonly value: string }
  /** A prefix also carries the DFA of `^<escaped prefix>`, so filters can run every non-exact key as a DFA. */
  | { readonly match: 'prefix'; readonly value: string; readonly dfa: DfaTable }
  | { readonly match: 'regex'; readonly source: string; readonly dfa: DfaTable }
  /** A name standing for a set of values (a Kafka role or API key name and the API names it allows). */
  | { readonly match: 'set'; readonly value: string; readonly members: readonly string[] }
  /** The key is present, whatever its value (an HTTP header named without a value). */
  | { readonly match: 'present' }
  /** A command or command group, expanded to the protocol's text commands and binary opcodes. */
  | { readonly match: 'command'; readonly value: string; readonly textCommands: readonly string[]; readonly binaryOpcodes: readonly number[] };

/** One allow rule: rule key -> constraint. No keys means every request matches. */
export type CompiledL7Rule = Readonly<Record<string, CompiledL7Constraint>>;

/** A decoded request as the reference matcher sees it, e.g. `{ command: 'get', keys: ['a'] }`. */
export type L7RequestValue = string | number | readonly string[];
export type L7Request = Readonly<Record<string, L7RequestValue | undefined>>;

/** Reports a problem with one rule key (or the whole rule when `key` is undefined). */
export type RuleProblemSink = (key: string | undefined, message: string) => void;

export interface L7ParserRules {
  /** The name used as `l7proto` in policies. */
  readonly l7proto: string;
  /** Where the parser's rule keys and commands are documented, named in error messages. */
  readonly docsPath: string;
  readonly keys: readonly string[];
  /** Checks one `l7` map (keys already known to be declared) and compiles it; undefined after reporting problems. */
  compileRule(rule: Readonly<Record<string, string>>, report: RuleProblemSink): CompiledL7Rule | undefined;
  /** Reference semantics of one compiled rule against one decoded request. */
  matches(rule: CompiledL7Rule, request: L7Request): boolean;
}
