// The parser SDK's public surface: what a parser module imports. See docs/writing-a-parser.md.
export { ByteView, NEED_MORE, MALFORMED, Ascii } from './byte-view';
export { Op, OpKind, ErrorCode, more, pass, drop, inject, error, nop, Parser, ParserFactory } from './parser';
export { Connection, Direction } from './connection';
export { EntryType, LogFields } from './access-log';
export { RuleSchema, Rule, RuleSet, RequestRecord, Constraint, ConstraintKind } from './rules';
export { useParser } from './registry';
export { asciiBytes } from './bytes';
export { StreamReplies, StreamDenial, MAX_STREAM_DENIALS } from './stream-replies';
export { IdSet } from './id-set';
export { CaseFold, foldedCompare, isAsciiRange, asciiLower } from './ascii-case';
export { LineTokens, U64_MAX, isDecimalAtMost, decimalAtMost, isSignedDecimalWithin } from './strict-fields';
export { closeOnDoubt } from './close-on-doubt';
