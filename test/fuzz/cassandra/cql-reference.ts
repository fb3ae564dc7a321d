// The fuzzers' reference reading of CQL text: what a statement Cassandra 5.0 would run does, as
// Weir's policy sees it (query_action, query_table, conditional), written independently of the
// filter's analysis (filters/parsers/cassandra/query-analysis.ts) from Cassandra's grammar
// (Lexer.g, Parser.g, reserved_keywords.txt). It is the reference the host fuzzer checks every
// request the filter forwarded against: if the reference says the server runs something the
// policy denies, the filter let it through. It reads CQL as the server does, comments included
// (the server skips them; the filter refuses them), and says when the server would run nothing
// (a syntax or name the server rejects) or when it cannot tell.
export interface ReferenceStatement {
  readonly action: string;
  /** keyspace.table, or the keyspace for keyspace actions; undefined for actions without one. */
  readonly table?: string;
  readonly conditional: boolean;
  /** The table was qualified with the default keyspace. */
  readonly usedDefaultKeyspace: boolean;
}

export type ReferenceReading =
  | { readonly kind: 'statements'; readonly statements: readonly ReferenceStatement[] }
  | { readonly kind: 'rejected'; readonly why: string } // the server runs nothing
  | { readonly kind: 'unknown'; readonly why: string }; // the reference cannot tell what runs

type TokenKind = 'ident' | 'quoted' | 'string' | 'number' | 'punct' | 'invalid';
interface Token {
  readonly kind: TokenKind;
  readonly text: string; // ident: as written; quoted: the name; punct: the character
}

const WORD = /^[A-Za-z0-9_]+$/;

// Lexer.g: WS is ' ', \t, \n, \r; comments are -- or // up to a line end, and /* */; strings are
// '...' ('' for a quote) or $$...$$; quoted names "..." ("" for a quote, not empty); identifiers
// start with a letter; everything else a lexer error.
function tokenize(text: string): Token[] | string {
  const tokens: Token[] = [];
  let at = 0;
  while (at < text.length) {
    const char = text[at] as string;
    const next = text[at + 1];
    if (char === ' ' || char === '\t' || char === '\n' || char === '\r') {
      at++;
    } else if ((char === '-' && next === '-') || (char === '/' && next === '/')) {
      const end = text.slice(at).search(/[\n\r]/);
      if (end < 0) return 'a line comment without a line end';
      at += end;
    } else if (char === '/' && next === '*') {
      const end = text.indexOf('*/', at + 2);
      if (end < 0) return 'an unterminated block comment';
      at = end + 2;
    } else if (char === '$' && next === '$') {
      const end = text.indexOf('$$', at + 2);
      if (end < 0) return 'an unterminated $$ string';
      tokens.push({ kind: 'string', text: text.slice(at + 2, end) });
      at = end + 2;
    } else if (char === "'" || char === '"') {
      let end = at + 1;
      let value = '';
      for (;;) {
        if (end >= text.length) return 'an unterminated quote';
        if (text[end] === char) {
          if (text[end + 1] === char) {
            value += char;
            end += 2;
            continue;
          }
          break;
        }
        value += text[end];
        end++;
      }
      if (char === '"' && value === '') return 'an empty quoted name';
      tokens.push({ kind: char === '"' ? 'quoted' : 'string', text: value });
      at = end + 1;
    } else if (/[A-Za-z]/.test(char)) {
      const match = /^[A-Za-z][A-Za-z0-9_]*/.exec(text.slice(at)) as RegExpExecArray;
      tokens.push({ kind: 'ident', text: match[0] });
      at += match[0].length;
    } else if (/[0-9]/.test(char)) {
      const match = /^[0-9A-Za-z_.+-]*/.exec(text.slice(at)) as RegExpExecArray;
      tokens.push({ kind: 'number', text: match[0] });
      at += match[0].length;
    } else if ('()[]{},;.:?*=<>!+-/%&|'.includes(char)) {
      tokens.push({ kind: 'punct', text: char });
      at++;
    } else {
      tokens.push({ kind: 'invalid', text: char });
      at++;
    }
  }
  return tokens;
}

class Reader {
  private at = 0;
  depth = 0;
  constructor(
    private readonly tokens: Token[],
    private readonly defaultKeyspace: string | undefined,
  ) {}

  get done(): boolean {
    return this.at >= this.tokens.length;
  }
  peek(): Token | undefined {
    return this.tokens[this.at];
  }
  take(): Token | undefined {
    const token = this.tokens[this.at++];
    if (token?.kind === 'punct' && '([{'.includes(token.text)) this.depth++;
    if (token?.kind === 'punct' && ')]}'.includes(token.text)) this.depth = Math.max(0, this.depth - 1);
    return token;
  }
  isKeyword(word: string, offset = 0): boolean {
    const token = this.tokens[this.at + offset];
    return token?.kind === 'ident' && token.text.toLowerCase() === word;
  }
  takeKeyword(word: string): boolean {
    if (!this.isKeyword(word)) return false;
    this.take();
    return true;
  }
  skipIfExists(): void {
    if (this.isKeyword('if') && (this.isKeyword('exists', 1) || (this.isKeyword('not', 1) && this.isKeyword('exists', 2)))) {
      this.take();
      if (this.isKeyword('not')) this.take();
      this.take();
    }
  }
  // A name token: unquoted lower-cased, quoted exact; undefined when there is none.
  name(): string | undefined {
    const token = this.peek();
    if (token === undefined || (token.kind !== 'ident' && token.kind !== 'quoted')) return undefined;
    this.take();
    return token.kind === 'ident' ? token.text.toLowerCase() : token.text;
  }
  // [keyspace.]table, qualified; undefined (with the reason) when the server would find nothing.
  qualifiedName(): { table: string; usedDefault: boolean } | string {
    const first = this.name();
    if (first === undefined) return 'no table name';
    if (this.peek()?.kind === 'punct' && this.peek()?.text === '.') {
      this.take();
      const second = this.name();
      if (second === undefined) return 'no table name after the dot';
      if (!WORD.test(first) || !WORD.test(second)) return 'a name no table can have';
      return { table: `${first}.${second}`, usedDefault: false };
    }
    if (this.defaultKeyspace === undefined) return 'no keyspace for a bare table';
    if (!WORD.test(first)) return 'a name no table can have';
    return { table: `${this.defaultKeyspace}.${first}`, usedDefault: true };
  }
  // Skips to the end of the statement (top-level ';' or the end), noting a top-level IF.
  restOfStatement(stopAtBatchWords: boolean): boolean {
    let conditional = false;
    while (!this.done) {
      const token = this.peek() as Token;
      if (this.depth === 0 && token.kind === 'punct' && token.text === ';') break;
      if (stopAtBatchWords && this.depth === 0 && ['insert', 'update', 'delete', 'apply'].some((word) => this.isKeyword(word))) break;
      if (this.depth === 0 && this.isKeyword('if')) conditional = true;
      this.take();
    }
    return conditional;
  }
}

const DDL_OBJECTS: Record<string, string> = {
  index: 'index',
  role: 'role',
  user: 'user',
  function: 'function',
  aggregate: 'aggregate',
  type: 'type',
  trigger: 'trigger',
};

/** What `text` runs on Cassandra 5.0, with `defaultKeyspace` qualifying bare table names. */
export function readCql(text: string, defaultKeyspace: string | undefined): ReferenceReading {
  const tokens = tokenize(text);
  if (typeof tokens === 'string') return { kind: 'rejected', why: tokens };
  if (tokens.some((token) => token.kind === 'invalid')) return { kind: 'rejected', why: 'a character CQL does not have' };
  const reader = new Reader(tokens, defaultKeyspace);
  const statements: ReferenceStatement[] = [];
  let problem: string | undefined;
  if (reader.isKeyword('begin')) problem = batch(reader, statements);
  else problem = statement(reader, statements, false);
  if (problem !== undefined) return problem.startsWith('?') ? { kind: 'unknown', why: problem.slice(1) } : { kind: 'rejected', why: problem };
  while (!reader.done) {
    const token = reader.take() as Token;
    if (!(token.kind === 'punct' && token.text === ';')) return { kind: 'rejected', why: 'text after the statement' };
  }
  return { kind: 'statements', statements };
}

function batch(reader: Reader, out: ReferenceStatement[]): string | undefined {
  reader.take();
  if (reader.isKeyword('unlogged') || reader.isKeyword('counter') || reader.isKeyword('logged')) reader.take();
  if (!reader.takeKeyword('batch')) return 'BEGIN without BATCH';
  if (reader.takeKeyword('using')) {
    while (!reader.done && !['insert', 'update', 'delete', 'apply'].some((word) => reader.isKeyword(word))) reader.take();
  }
  for (;;) {
    if (reader.done) return 'BEGIN BATCH without APPLY BATCH';
    if (reader.takeKeyword('apply')) return reader.takeKeyword('batch') ? undefined : 'APPLY without BATCH';
    const token = reader.peek() as Token;
    if (token.kind === 'punct' && token.text === ';') {
      reader.take();
      continue;
    }
    if (!['insert', 'update', 'delete'].some((word) => reader.isKeyword(word))) return 'a batch holds only INSERT, UPDATE and DELETE';
    const problem = statement(reader, out, true);
    if (problem !== undefined) return problem;
  }
}

function statement(reader: Reader, out: ReferenceStatement[], inBatch: boolean): string | undefined {
  const head = reader.peek();
  if (head?.kind !== 'ident') return 'no statement';
  const word = head.text.toLowerCase();
  reader.take();
  const table = (action: string, conditionalAllowed: boolean): string | undefined => {
    const name = reader.qualifiedName();
    if (typeof name === 'string') return name;
    const conditional = reader.restOfStatement(inBatch);
    out.push({ action, table: name.table, conditional: conditionalAllowed && conditional, usedDefaultKeyspace: name.usedDefault });
    return undefined;
  };
  const keyspace = (action: string): string | undefined => {
    reader.skipIfExists();
    const name = reader.name();
    if (name === undefined || !WORD.test(name)) return 'no keyspace name';
    reader.restOfStatement(false);
    out.push({ action, table: name, conditional: false, usedDefaultKeyspace: false });
    return undefined;
  };
  const tableless = (action: string): undefined => {
    reader.restOfStatement(false);
    out.push({ action, conditional: false, usedDefaultKeyspace: false });
    return undefined;
  };
  switch (word) {
    case 'select':
      while (!reader.done && !(reader.depth === 0 && reader.isKeyword('from'))) reader.take();
      if (!reader.takeKeyword('from')) return 'SELECT without FROM';
      return table('select', false);
    case 'insert':
      if (!reader.takeKeyword('into')) return 'INSERT without INTO';
      return table('insert', true);
    case 'update':
      return table('update', true);
    case 'delete':
      while (!reader.done && !(reader.depth === 0 && reader.isKeyword('from'))) reader.take();
      if (!reader.takeKeyword('from')) return 'DELETE without FROM';
      return table('delete', true);
    case 'use':
      return keyspace('use');
    case 'truncate':
      if (reader.isKeyword('table') || reader.isKeyword('columnfamily')) reader.take();
      return table('truncate-table', false);
    case 'create':
    case 'alter':
    case 'drop': {
      if (word === 'create' && reader.takeKeyword('or')) {
        if (!reader.takeKeyword('replace')) return 'OR without REPLACE';
      }
      if (reader.isKeyword('keyspace') || reader.isKeyword('schema')) {
        reader.take();
        return keyspace(`${word}-keyspace`);
      }
      if (reader.isKeyword('table') || reader.isKeyword('columnfamily')) {
        reader.take();
        reader.skipIfExists();
        return table(`${word}-table`, false);
      }
      if (reader.takeKeyword('materialized')) return reader.takeKeyword('view') ? tableless(`${word}-materialized-view`) : 'MATERIALIZED without VIEW';
      if (word === 'create' && reader.takeKeyword('custom')) return reader.takeKeyword('index') ? tableless('create-index') : 'CUSTOM without INDEX';
      const object = reader.peek()?.kind === 'ident' ? DDL_OBJECTS[(reader.peek() as Token).text.toLowerCase()] : undefined;
      if (object === undefined) return `?${word.toUpperCase()} of an object the reference does not know`;
      reader.take();
      return tableless(`${word}-${object}`);
    }
    case 'grant':
    case 'revoke': {
      let on = false;
      const start = out.length;
      while (!reader.done && !(reader.depth === 0 && reader.peek()?.kind === 'punct' && reader.peek()?.text === ';')) {
        if (reader.depth === 0 && reader.isKeyword('on')) on = true;
        reader.take();
      }
      out.splice(start, 0, { action: `${word}-${on ? 'permission' : 'role'}`, conditional: false, usedDefaultKeyspace: false });
      return undefined;
    }
    case 'list':
      if (reader.takeKeyword('roles')) return tableless('list-roles');
      if (reader.takeKeyword('users')) return tableless('list-users');
      if (reader.isKeyword('superusers')) return 'LIST SUPERUSERS is not Cassandra 5.0';
      return tableless('list-permissions');
    default:
      return `?a ${word.toUpperCase()} statement the reference does not know`;
  }
}
