// r2d2 rule keys (Cilium's tutorial protocol): `cmd` exact, one of READ WRITE HALT RESET; `file` a
// regex (unanchored search), allowed only with READ, WRITE or no cmd.
import { constraintHolds, regexConstraint, textOf } from './constraint-matching.ts';
import type { CompiledL7Constraint, CompiledL7Rule, L7ParserRules } from './l7-rule-types.ts';

export const R2D2_COMMANDS = ['READ', 'WRITE', 'HALT', 'RESET'] as const;
const COMMANDS_WITH_FILE: readonly string[] = ['READ', 'WRITE'];

export const r2d2Rules: L7ParserRules = {
  l7proto: 'r2d2',
  docsPath: 'docs/parsers/r2d2.md',
  keys: ['cmd', 'file'],
  compileRule(rule, report) {
    const compiled: Record<string, CompiledL7Constraint> = {};
    let valid = true;
    const cmd = rule['cmd'] ?? '';
    if (cmd !== '') {
      if ((R2D2_COMMANDS as readonly string[]).includes(cmd)) compiled['cmd'] = { match: 'exact', value: cmd };
      else {
        report('cmd', `unknown r2d2 command ${JSON.stringify(cmd)}; expected one of ${R2D2_COMMANDS.join(', ')} (case-sensitive)`);
        valid = false;
      }
    }
    const file = rule['file'] ?? '';
    if (file !== '') {
      if (cmd !== '' && !COMMANDS_WITH_FILE.includes(cmd)) {
        report('file', `a file constraint needs cmd READ, WRITE or no cmd; ${cmd} takes no file`);
        valid = false;
      } else {
        const constraint = regexConstraint('file', file, report);
        if (constraint === undefined) valid = false;
        else compiled['file'] = constraint;
      }
    }
    return valid ? compiled : undefined;
  },
  matches(rule: CompiledL7Rule, request) {
    const cmd = rule['cmd'];
    if (cmd !== undefined && !constraintHolds(cmd, textOf(request['cmd']))) return false;
    const file = rule['file'];
    return file === undefined || constraintHolds(file, textOf(request['file']));
  },
};
