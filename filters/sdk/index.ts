// The parser SDK's public surface: what a parser module imports (parsers import nothing else of
// the SDK; their entry file re-exports module/exports). See docs/writing-a-parser.md and
// docs/parser-sdk.md. Folders: abi/ (the Proxy-Wasm runtime, shared with the agent), bytes/
// (reading and buffering bytes, JSON), contract/ (the parser contract and the op loop that runs
// it), replies/ (reply correlation), policy/ (rules, rule keys, the agent's policy), access-log/
// (entries and their queue to the agent), module/ (the exports of a built parser module).
export { ByteView, NEED_MORE, MALFORMED, Ascii } from './bytes/byte-view';
export { Op, OpKind, ErrorCode, more, pass, drop, inject, error, nop } from './contract/ops';
export { Parser, ParserFactory } from './contract/parser';
export { Connection, Direction } from './contract/connection';
export { EntryType, LogFields } from './access-log/access-log';
export { RuleSchema, Rule, RuleSet, RequestRecord, Constraint, ConstraintKind } from './policy/rules';
export { RuleKeys, RuleKey, KeyMatch } from './policy/rule-keys';
export { useParser, declareRuleKeys } from './contract/registry';
export { asciiBytes } from './bytes/bytes';
export { ByteBuffer, LetterCase } from './bytes/byte-buffer';
export { readSharedData, writeSharedData } from './policy/policy-shared-data';
export { Denial, ReplyKind, MAX_PENDING_DENIALS } from './replies/reply-correlation';
export { IdSet } from './bytes/id-set';
export { CaseFold, foldedCompare, isAsciiRange, asciiLower } from './bytes/ascii-case';
export { LineTokens, U64_MAX, isDecimalAtMost, decimalAtMost, isSignedDecimalWithin } from './bytes/strict-fields';
export { closeOnDoubt } from './contract/close-on-doubt';
