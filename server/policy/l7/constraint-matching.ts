// Compiling and evaluating the constraint kinds parsers share (exact, prefix, regex), so each
// parser's rule file only says which key uses which kind.
import { compileRegex, escapeRegexLiteral } from '../regex/compile-regex.ts';
import { dfaMatches } from '../regex/dfa.ts';
import type { CompiledL7Constraint, RuleProblemSink } from './l7-rule-types.ts';

export function regexConstraint(key: string, source: string, report: RuleProblemSink): CompiledL7Constraint | undefined {
  const compiled = compileRegex(source);
  if (!compiled.ok) {
    report(key, compiled.reason);
    return undefined;
  }
  return { match: 'regex', source, dfa: compiled.dfa };
}

export function prefixConstraint(key: string, prefix: string, report: RuleProblemSink): CompiledL7Constraint | undefined {
  const compiled = compileRegex(`^${escapeRegexLiteral(prefix)}`);
  if (!compiled.ok) {
    report(key, compiled.reason);
    return undefined;
  }
  return { match: 'prefix', value: prefix, dfa: compiled.dfa };
}

/** True when `value` (of a key that is present) satisfies the constraint (a command by its text commands, a set by its members). */
export function constraintHolds(constraint: CompiledL7Constraint, value: string): boolean {
  switch (constraint.match) {
    case 'exact':
      return value === constraint.value;
    case 'prefix':
      return value.startsWith(constraint.value);
    case 'regex':
      return dfaMatches(constraint.dfa, value);
    case 'command':
      return constraint.textCommands.includes(value);
    case 'set':
      return constraint.members.includes(value);
    case 'present':
      return true;
  }
}

export function textOf(value: unknown): string {
  return typeof value === 'string' ? value : '';
}
