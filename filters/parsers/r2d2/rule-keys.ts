// r2d2's rule keys, the one declaration the filter and the control server both use (the build
// writes it to r2d2.rules.json): `cmd` an exact command, `file` a regex (unanchored search) that
// combines only with cmd READ or WRITE (or no cmd).
import { KeyMatch, RuleKeys } from '../../sdk/index';

export const enum R2d2Key {
  Cmd = 0,
  File = 1,
}

export const R2D2_RULE_KEYS: RuleKeys = new RuleKeys('r2d2', 'docs/parsers/r2d2.md')
  .key('cmd', KeyMatch.Exact)
  .values('command', ['READ', 'WRITE', 'HALT', 'RESET'])
  .key('file', KeyMatch.Regex)
  .onlyWith('cmd', ['READ', 'WRITE']);
