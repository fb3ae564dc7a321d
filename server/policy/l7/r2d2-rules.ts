// r2d2 rule keys (Cilium's tutorial protocol), as filters/parsers/r2d2/rule-keys.ts declares them:
// `cmd` exact, one of READ WRITE HALT RESET; `file` a regex (unanchored search), only with READ,
// WRITE or no cmd. Everything is in the declaration: no extension.
import { builtInDeclaration } from './built-in-declarations.ts';
import { declaredRules, type RuleKeysDeclaration } from './declared-rules.ts';
import type { L7ParserRules } from './l7-rule-types.ts';

export const R2D2_RULE_KEYS: RuleKeysDeclaration = builtInDeclaration('r2d2');

export const r2d2Rules: L7ParserRules = declaredRules(R2D2_RULE_KEYS);
