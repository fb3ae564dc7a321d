// Derives `query_action` and `query_table` from CQL query text, the way Cilium's Cassandra parser
// defines them, but from tokens instead of split words, with Cassandra 5.0's lexer rules
// (Lexer.g): whitespace is space, tab, LF and CR only; unquoted names are ASCII and lower-cased,
// quoted names kept exactly; keywords are ASCII case-insensitive. A statement head (SELECT ...
// FROM t, INSERT INTO t, CREATE TABLE IF NOT EXISTS ks.t, GRANT ... ON ..., ...) gives the action
// and the table; an unqualified table takes the default keyspace the caller passes (the request's
// own keyspace parameter, else the connection's), and the analysis records that it needed it.
// A keyspace or table name must be one Cassandra can create ([A-Za-z0-9_]+): any other name can
// only fail at the server, so it is refused rather than matched. INSERT, UPDATE and DELETE with
// IF (conditional, "lightweight transactions") are marked: the server answers them with the
// current row. `BEGIN BATCH ... APPLY BATCH` yields one statement per inner statement.
// Anything it cannot analyse (comments, bytes the lexer rejects, unknown statements, a second
// statement after `;`, unterminated quotes) is refused with a reason and never guessed. Writes
// action names and tables into a byte buffer; allocates only when that buffer or the list grows.
import { ByteBuffer, ByteView, LetterCase } from '../../sdk/index';
import { QueryAction, actionName } from './query-actions';

// One analysed statement: its action and, for actions with a table, the `keyspace.table` (or
// keyspace) bytes, both as ranges of the byte buffer the analysis wrote into.
export class Statement {
  action: i32 = 0;
  actionOffset: i32 = 0;
  actionLength: i32 = 0;
  tableOffset: i32 = 0;
  tableLength: i32 = -1; // -1: no table
  conditional: bool = false; // INSERT/UPDATE/DELETE ... IF: the reply carries the current row
}

export class StatementList {
  private items: Array<Statement> = new Array<Statement>();
  count: i32 = 0;

  clear(): void {
    this.count = 0;
  }

  at(index: i32): Statement {
    return this.items[index];
  }

  add(): Statement {
    if (this.count == this.items.length) this.items.push(new Statement());
    const statement = this.items[this.count++];
    statement.tableLength = -1;
    statement.conditional = false;
    return statement;
  }
}

const enum Token {
  End = 0,
  Word = 1, // unquoted identifier, keyword or number
  QuotedName = 2, // "..."
  Literal = 3, // '...' or $$...$$
  Symbol = 4, // one punctuation byte
  Comment = 5, // --, // or /*: the query is refused
  Unterminated = 6, // a quote or $$ without its end: refused
  Invalid = 7, // a byte Cassandra's lexer rejects outside quotes (controls, non-ASCII): refused
}

const enum Char {
  Tab = 0x09,
  LF = 0x0a,
  CR = 0x0d,
  Space = 0x20,
  DoubleQuote = 0x22,
  Dollar = 0x24,
  SingleQuote = 0x27,
  OpenParen = 0x28,
  CloseParen = 0x29,
  Star = 0x2a,
  Minus = 0x2d,
  Dot = 0x2e,
  Slash = 0x2f,
  Semicolon = 0x3b,
  OpenBracket = 0x5b,
  CloseBracket = 0x5d,
  Underscore = 0x5f,
  OpenBrace = 0x7b,
  CloseBrace = 0x7d,
}

const REASON_COMMENT = 'the query contains a comment (--, // or /*); such queries are refused, never guessed';
const REASON_UNTERMINATED = 'the query has an unterminated quoted name or string';
const REASON_UNKNOWN = 'the statement is not one Weir can analyse (see the README for the list)';
const REASON_NO_TABLE = 'the statement names no table where one was expected';
const REASON_NO_KEYSPACE = 'the table is not qualified with a keyspace and no keyspace is in use on this connection';
const REASON_TWO_STATEMENTS = 'the query holds more than one statement';
const REASON_BATCH_END = 'BEGIN BATCH without APPLY BATCH';
const REASON_EMPTY = 'the query is empty';
const REASON_INVALID_BYTE = 'the query holds a byte outside quotes that CQL does not allow (a control character or non-ASCII)';
const REASON_BAD_NAME = 'a keyspace or table name holds characters no Cassandra keyspace or table can have (only A-Z, a-z, 0-9 and _)';
const REASON_BATCH_CONTENT = 'BEGIN BATCH may only hold INSERT, UPDATE and DELETE statements';

// Analyses query text; the statements go to `out` (their bytes to `scratch`, which is not reset
// here). `defaultKeyspace` qualifies bare table names; when it is null a bare name is refused
// with `noKeyspaceReason`. Returns null, or why the query cannot be analysed; afterwards
// `usedDefaultKeyspace` says whether a bare name was qualified with `defaultKeyspace`.
export class QueryAnalyser {
  usedDefaultKeyspace: bool = false;
  private noKeyspaceReason: string = REASON_NO_KEYSPACE;
  private view: ByteView = new ByteView();
  private position: i32 = 0;
  private end: i32 = 0;
  private kind: i32 = Token.End;
  private tokenStart: i32 = 0;
  private tokenLength: i32 = 0;
  private depth: i32 = 0;
  private sawIf: bool = false; // an IF passed in the body skipStatementBody just walked
  private defaultKeyspace: ArrayBuffer | null = null;
  private scratch: ByteBuffer = new ByteBuffer(); // replaced by analyse()'s; never written itself
  private out: StatementList = new StatementList();

  analyse(view: ByteView, start: i32, length: i32, defaultKeyspace: ArrayBuffer | null, noKeyspaceReason: string | null, out: StatementList, scratch: ByteBuffer): string | null {
    this.view = view;
    this.position = start;
    this.end = start + length;
    this.depth = 0;
    this.defaultKeyspace = defaultKeyspace;
    this.noKeyspaceReason = noKeyspaceReason === null ? REASON_NO_KEYSPACE : noKeyspaceReason;
    this.usedDefaultKeyspace = false;
    this.scratch = scratch;
    this.out = out;
    this.next();
    if (this.kind == Token.End) return REASON_EMPTY;
    if (this.isWord('begin')) return this.batch();
    const problem = this.statement();
    if (problem !== null) return problem;
    return this.expectEnd();
  }

  // BEGIN [UNLOGGED | COUNTER] BATCH [USING TIMESTAMP n] (INSERT | UPDATE | DELETE ... [;])* APPLY BATCH
  private batch(): string | null {
    this.next();
    if (this.isWord('unlogged') || this.isWord('counter')) this.next();
    if (!this.isWord('batch')) return REASON_UNKNOWN;
    this.next();
    if (this.isWord('using')) {
      while (!this.atBatchStatementOrEnd()) {
        const problem = this.tokenProblem();
        if (problem !== null) return problem;
        this.next();
      }
    }
    while (true) {
      const problem = this.tokenProblem();
      if (problem !== null) return problem;
      if (this.kind == Token.End) return REASON_BATCH_END;
      if (this.isWord('apply')) {
        this.next();
        if (!this.isWord('batch')) return REASON_UNKNOWN;
        this.next();
        return this.expectEnd();
      }
      if (this.isWord('insert') || this.isWord('update') || this.isWord('delete')) {
        const statementProblem = this.statement();
        if (statementProblem !== null) return statementProblem;
        continue;
      }
      if (this.kind == Token.Symbol && this.symbolIs(Char.Semicolon)) {
        this.next();
        continue;
      }
      return REASON_BATCH_CONTENT;
    }
    return REASON_BATCH_END; // unreachable
  }

  // At depth 0 on INSERT, UPDATE, DELETE or APPLY, or at the end of the text.
  private atBatchStatementOrEnd(): bool {
    if (this.kind == Token.End) return true;
    return this.depth == 0 && (this.isWord('insert') || this.isWord('update') || this.isWord('delete') || this.isWord('apply'));
  }

  // Why the current token stops the analysis (comment, unterminated quote, invalid byte), or null.
  private tokenProblem(): string | null {
    if (this.kind == Token.Comment) return REASON_COMMENT;
    if (this.kind == Token.Unterminated) return REASON_UNTERMINATED;
    if (this.kind == Token.Invalid) return REASON_INVALID_BYTE;
    return null;
  }

  // One statement head; leaves the tokenizer on the first token it did not need.
  private statement(): string | null {
    const problem = this.tokenProblem();
    if (problem !== null) return problem;
    if (this.kind != Token.Word) return REASON_UNKNOWN;
    if (this.isWord('select')) return this.tableAfterFrom(QueryAction.Select);
    if (this.isWord('delete')) return this.modification(QueryAction.Delete);
    if (this.isWord('insert')) return this.modification(QueryAction.Insert);
    if (this.isWord('update')) return this.modification(QueryAction.Update);
    if (this.isWord('use')) {
      this.next();
      return this.keyspaceStatement(QueryAction.Use);
    }
    if (this.isWord('truncate')) {
      this.next();
      if (this.isWord('table') || this.isWord('columnfamily')) this.next();
      return this.tableStatement(QueryAction.TruncateTable);
    }
    if (this.isWord('create')) return this.create();
    if (this.isWord('alter')) return this.alter();
    if (this.isWord('drop')) return this.drop();
    if (this.isWord('grant')) return this.permissionOrRole(QueryAction.GrantPermission, QueryAction.GrantRole);
    if (this.isWord('revoke')) return this.permissionOrRole(QueryAction.RevokePermission, QueryAction.RevokeRole);
    if (this.isWord('list')) return this.list();
    return REASON_UNKNOWN;
  }

  private create(): string | null {
    this.next();
    if (this.isWord('or')) {
      this.next();
      if (!this.isWord('replace')) return REASON_UNKNOWN;
      this.next();
      if (this.isWord('function')) return this.tableless(QueryAction.CreateFunction);
      if (this.isWord('aggregate')) return this.tableless(QueryAction.CreateAggregate);
      return REASON_UNKNOWN;
    }
    if (this.isWord('keyspace') || this.isWord('schema')) return this.keyspaceAfterIfExists(QueryAction.CreateKeyspace);
    if (this.isWord('table') || this.isWord('columnfamily')) return this.tableAfterIfExists(QueryAction.CreateTable);
    if (this.isWord('custom')) {
      this.next();
      return this.isWord('index') ? this.tableless(QueryAction.CreateIndex) : REASON_UNKNOWN;
    }
    if (this.isWord('index')) return this.tableless(QueryAction.CreateIndex);
    if (this.isWord('materialized')) return this.materializedView(QueryAction.CreateMaterializedView);
    return this.schemaObject(QueryAction.CreateRole, QueryAction.CreateUser, QueryAction.CreateFunction, QueryAction.CreateAggregate, QueryAction.CreateType, QueryAction.CreateTrigger);
  }

  private alter(): string | null {
    this.next();
    if (this.isWord('keyspace') || this.isWord('schema')) return this.keyspaceAfterIfExists(QueryAction.AlterKeyspace);
    if (this.isWord('table') || this.isWord('columnfamily')) return this.tableAfterIfExists(QueryAction.AlterTable);
    if (this.isWord('materialized')) return this.materializedView(QueryAction.AlterMaterializedView);
    return this.schemaObject(QueryAction.AlterRole, QueryAction.AlterUser, -1, -1, QueryAction.AlterType, -1);
  }

  private drop(): string | null {
    this.next();
    if (this.isWord('keyspace') || this.isWord('schema')) return this.keyspaceAfterIfExists(QueryAction.DropKeyspace);
    if (this.isWord('table') || this.isWord('columnfamily')) return this.tableAfterIfExists(QueryAction.DropTable);
    if (this.isWord('index')) return this.tableless(QueryAction.DropIndex);
    if (this.isWord('materialized')) return this.materializedView(QueryAction.DropMaterializedView);
    return this.schemaObject(QueryAction.DropRole, QueryAction.DropUser, QueryAction.DropFunction, QueryAction.DropAggregate, QueryAction.DropType, QueryAction.DropTrigger);
  }

  // ROLE | USER | FUNCTION | AGGREGATE | TYPE | TRIGGER after CREATE/ALTER/DROP (-1: not valid).
  private schemaObject(role: i32, user: i32, func: i32, aggregate: i32, type: i32, trigger: i32): string | null {
    let action = -1;
    if (this.isWord('role')) action = role;
    else if (this.isWord('user')) action = user;
    else if (this.isWord('function')) action = func;
    else if (this.isWord('aggregate')) action = aggregate;
    else if (this.isWord('type')) action = type;
    else if (this.isWord('trigger')) action = trigger;
    return action < 0 ? REASON_UNKNOWN : this.tableless(action);
  }

  private materializedView(action: i32): string | null {
    this.next();
    return this.isWord('view') ? this.tableless(action) : REASON_UNKNOWN;
  }

  // GRANT/REVOKE: with ON at the top level it is about permissions, else about roles.
  private permissionOrRole(permission: i32, role: i32): string | null {
    this.next();
    let hasOn = false;
    while (this.kind != Token.End && this.tokenProblem() === null) {
      if (this.depth == 0 && this.isWord('on')) hasOn = true;
      if (this.kind == Token.Symbol && this.symbolIs(Char.Semicolon)) break;
      this.next();
    }
    return this.tableless(hasOn ? permission : role, false);
  }

  // LIST ROLES, LIST USERS, or LIST ALL | <permission> [PERMISSION[S]] ...: anything else is
  // not a CQL statement.
  private list(): string | null {
    this.next();
    if (this.isWord('roles')) return this.tableless(QueryAction.ListRoles);
    if (this.isWord('users')) return this.tableless(QueryAction.ListUsers);
    if (!this.isPermissionWord()) return REASON_UNKNOWN;
    return this.tableless(QueryAction.ListPermissions, false);
  }

  private isPermissionWord(): bool {
    for (let i = 0; i < PERMISSION_WORDS.length; i++) if (this.isWord(PERMISSION_WORDS[i])) return true;
    return false;
  }

  // Actions without a table: the rest of the statement is skipped up to `;` or the end.
  private tableless(action: i32, advance: bool = true): string | null {
    if (advance) this.next();
    this.addStatement(action);
    return this.skipStatementBody();
  }

  private tableAfterFrom(action: i32): string | null {
    this.next();
    while (!(this.depth == 0 && this.isWord('from'))) {
      const problem = this.tokenProblem();
      if (problem !== null) return problem;
      if (this.kind == Token.End) return REASON_NO_TABLE;
      this.next();
    }
    this.next();
    return this.tableStatement(action);
  }

  // INSERT INTO t ..., UPDATE t ..., DELETE ... FROM t ...: the table, then the rest of the
  // statement, watching for IF (a reserved word: it can only open a condition, as IF NOT EXISTS,
  // IF EXISTS or IF <column conditions>; a column named "if" must be quoted).
  private modification(action: i32): string | null {
    let problem: string | null;
    if (action == QueryAction.Delete) problem = this.tableAfterFrom(action);
    else {
      this.next();
      if (action == QueryAction.Insert) {
        if (!this.isWord('into')) return REASON_UNKNOWN;
        this.next();
      }
      problem = this.tableStatement(action);
    }
    if (problem !== null) return problem;
    this.out.at(this.out.count - 1).conditional = this.sawIf;
    return null;
  }

  private tableAfterIfExists(action: i32): string | null {
    this.next();
    this.skipIfExists();
    return this.tableStatement(action);
  }

  private keyspaceAfterIfExists(action: i32): string | null {
    this.next();
    this.skipIfExists();
    return this.keyspaceStatement(action);
  }

  // A [keyspace.]table name at the current token.
  private tableStatement(action: i32): string | null {
    if (!this.isName()) return this.missingName();
    const statement = this.addStatement(action);
    const scratch = this.scratch;
    statement.tableOffset = <i32>scratch.length;
    const firstStart = this.tokenStart;
    const firstLength = this.tokenLength;
    const firstKind = this.kind;
    this.next();
    if (this.kind == Token.Symbol && this.symbolIs(Char.Dot)) {
      this.next();
      if (!this.isName()) return this.missingName();
      if (!this.appendName(firstKind, firstStart, firstLength)) return REASON_BAD_NAME;
      scratch.appendByte(<u8>Char.Dot);
      if (!this.appendName(this.kind, this.tokenStart, this.tokenLength)) return REASON_BAD_NAME;
      this.next();
    } else {
      const keyspace = this.defaultKeyspace;
      if (keyspace === null) return this.noKeyspaceReason;
      this.usedDefaultKeyspace = true;
      scratch.appendArrayBuffer(keyspace);
      scratch.appendByte(<u8>Char.Dot);
      if (!this.appendName(firstKind, firstStart, firstLength)) return REASON_BAD_NAME;
    }
    statement.tableLength = <i32>scratch.length - statement.tableOffset;
    return this.skipStatementBody();
  }

  // A keyspace name at the current token (USE, CREATE/ALTER/DROP KEYSPACE).
  private keyspaceStatement(action: i32): string | null {
    if (!this.isName()) return this.missingName();
    const statement = this.addStatement(action);
    statement.tableOffset = <i32>this.scratch.length;
    if (!this.appendName(this.kind, this.tokenStart, this.tokenLength)) return REASON_BAD_NAME;
    statement.tableLength = <i32>this.scratch.length - statement.tableOffset;
    this.next();
    return this.skipStatementBody();
  }

  private addStatement(action: i32): Statement {
    const statement = this.out.add();
    statement.action = action;
    statement.actionOffset = <i32>this.scratch.length;
    this.scratch.appendAscii(actionName(action));
    statement.actionLength = <i32>this.scratch.length - statement.actionOffset;
    return statement;
  }

  // Skips to the end of the current statement: `;` at the top level, the end of the text, or (in
  // a batch) the next INSERT/UPDATE/DELETE/APPLY at the top level, noting whether an IF passed
  // (`sawIf`). Returns why a token stops the analysis (comment, unterminated quote, bad byte).
  private skipStatementBody(): string | null {
    this.sawIf = false;
    while (this.kind != Token.End) {
      const problem = this.tokenProblem();
      if (problem !== null) return problem;
      if (this.depth == 0 && this.kind == Token.Symbol && this.symbolIs(Char.Semicolon)) return null;
      if (this.depth == 0 && (this.isWord('insert') || this.isWord('update') || this.isWord('delete') || this.isWord('apply'))) return null;
      if (this.isWord('if')) this.sawIf = true;
      this.next();
    }
    return null;
  }

  private skipIfExists(): void {
    if (!this.isWord('if')) return;
    this.next();
    if (this.isWord('not')) this.next();
    if (this.isWord('exists')) this.next();
  }

  // After the (last) statement only `;` may follow.
  private expectEnd(): string | null {
    while (true) {
      if (this.kind == Token.End) return null;
      const problem = this.tokenProblem();
      if (problem !== null) return problem;
      if (!(this.kind == Token.Symbol && this.symbolIs(Char.Semicolon))) return REASON_TWO_STATEMENTS;
      this.next();
    }
    return null; // unreachable
  }

  // Appends a keyspace or table name: unquoted lower-cased, "quoted" exactly (with "" standing
  // for one quote). False when the name is not one Cassandra accepts for a keyspace or table
  // (SchemaConstants.isValidName: \w+, ASCII), which then cannot name anything that exists.
  private appendName(kind: i32, start: i32, length: i32): bool {
    if (kind == Token.Word) {
      this.scratch.appendFromView(this.view, start, length, LetterCase.Lower);
      return true;
    }
    const last = start + length - 1;
    if (last <= start + 1) return false; // "" names nothing
    for (let at = start + 1; at < last; at++) {
      const byte = this.view.byteAt(at);
      if (!isWordByte(byte)) return false;
      this.scratch.appendByte(<u8>byte);
    }
    return true;
  }

  // Why no name stands at the current token.
  private missingName(): string {
    const problem = this.tokenProblem();
    return problem !== null ? problem : REASON_NO_TABLE;
  }

  private isName(): bool {
    return this.kind == Token.Word || this.kind == Token.QuotedName;
  }

  private symbolIs(char: i32): bool {
    return this.view.byteAt(this.tokenStart) == char;
  }

  // Case-insensitive comparison of the current Word token with a lower-case keyword.
  private isWord(keyword: string): bool {
    if (this.kind != Token.Word || this.tokenLength != keyword.length) return false;
    for (let i = 0; i < this.tokenLength; i++) {
      let byte = this.view.byteAt(this.tokenStart + i);
      if (byte >= 0x41 && byte <= 0x5a) byte += 0x20;
      if (byte != keyword.charCodeAt(i)) return false;
    }
    return true;
  }

  // Moves to the next token, tracking bracket depth.
  private next(): void {
    const view = this.view;
    let at = this.position;
    while (at < this.end && isSpace(view.byteAt(at))) at++;
    this.tokenStart = at;
    if (at >= this.end) {
      this.setToken(Token.End, at);
      return;
    }
    const byte = view.byteAt(at);
    const following = at + 1 < this.end ? view.byteAt(at + 1) : -1;
    if ((byte == Char.Minus && following == Char.Minus) || (byte == Char.Slash && (following == Char.Slash || following == Char.Star))) {
      this.setToken(Token.Comment, at);
    } else if (isWordByte(byte)) {
      let stop = at + 1;
      while (stop < this.end && isWordByte(view.byteAt(stop))) stop++;
      this.setToken(Token.Word, stop);
    } else if (byte == Char.DoubleQuote || byte == Char.SingleQuote) {
      this.quoted(byte, at);
    } else if (byte == Char.Dollar && following == Char.Dollar) {
      this.dollarQuoted(at);
    } else if (byte < Char.Space || byte >= 0x7f) {
      this.setToken(Token.Invalid, at + 1);
    } else {
      if (byte == Char.OpenParen || byte == Char.OpenBracket || byte == Char.OpenBrace) this.depth++;
      else if ((byte == Char.CloseParen || byte == Char.CloseBracket || byte == Char.CloseBrace) && this.depth > 0) this.depth--;
      this.setToken(Token.Symbol, at + 1);
    }
  }

  // '...' or "..." where a doubled quote stands for one.
  private quoted(quote: i32, at: i32): void {
    let scan = at + 1;
    while (scan < this.end) {
      if (this.view.byteAt(scan) == quote) {
        if (scan + 1 < this.end && this.view.byteAt(scan + 1) == quote) {
          scan += 2;
          continue;
        }
        this.setToken(quote == Char.DoubleQuote ? Token.QuotedName : Token.Literal, scan + 1);
        return;
      }
      scan++;
    }
    this.setToken(Token.Unterminated, this.end);
  }

  private dollarQuoted(at: i32): void {
    for (let scan = at + 2; scan + 1 < this.end; scan++) {
      if (this.view.byteAt(scan) == Char.Dollar && this.view.byteAt(scan + 1) == Char.Dollar) {
        this.setToken(Token.Literal, scan + 2);
        return;
      }
    }
    this.setToken(Token.Unterminated, this.end);
  }

  private setToken(kind: i32, stop: i32): void {
    this.kind = kind;
    this.tokenLength = stop - this.tokenStart;
    this.position = stop;
  }
}

// Lexer.g WS: ' ' | '\t' | '\n' | '\r' (a form feed or vertical tab is not whitespace to CQL).
function isSpace(byte: i32): bool {
  return byte == Char.Space || byte == Char.Tab || byte == Char.LF || byte == Char.CR;
}

// The words that may follow LIST in LIST <permission> ... (Cassandra 5.0's Permission names).
const PERMISSION_WORDS: StaticArray<string> = ['all', 'create', 'alter', 'drop', 'select', 'modify', 'authorize', 'describe', 'execute', 'unmask', 'select_masked'];

function isWordByte(byte: i32): bool {
  return (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5a) || (byte >= 0x61 && byte <= 0x7a) || byte == Char.Underscore;
}
