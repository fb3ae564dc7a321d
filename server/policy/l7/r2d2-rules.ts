// r2d2 rule keys (Cilium's tutorial protocol), as filters/parsers/r2d2/rule-keys.ts declares them
// and the build writes them to r2d2.rules.json: `cmd` exact, one of READ WRITE HALT RESET; `file` a
// regex (unanchored search), only with READ, WRITE or no cmd. Built in so that policies validate
// without a filters directory; test/filters/decision-table checks that the build's manifest
// declares exactly this.
import { declaredRules, RULE_KEYS_FORMAT, type RuleKeysDeclaration } from './declared-rules.ts';
import type { L7ParserRules } from './l7-rule-types.ts';

export const R2D2_RULE_KEYS: RuleKeysDeclaration = {
  format: RULE_KEYS_FORMAT,
  protocol: 'r2d2',
  docs: 'docs/parsers/r2d2.md',
  keys: [
    { name: 'cmd', match: 'exact', noun: 'command', values: ['READ', 'WRITE', 'HALT', 'RESET'], logField: 'cmd' },
    { name: 'file', match: 'regex', noun: 'file', values: [], onlyWith: { key: 'cmd', values: ['READ', 'WRITE'] }, logField: 'file' },
  ],
};

export const r2d2Rules: L7ParserRules = declaredRules(R2D2_RULE_KEYS);
