// Reads policy files: YAML (one or several documents) or JSON text into raw values, with syntax
// errors reported as problems carrying file, line and column. Decides nothing about content.
import { parseAllDocuments } from 'yaml';
import type { PolicyProblem } from './policy-problems.ts';

export interface RawPolicyDocument {
  /** 1-based; undefined when the file holds a single document. */
  readonly document: number | undefined;
  readonly value: unknown;
}

export type ReadDocumentsResult = { ok: true; documents: RawPolicyDocument[] } | { ok: false; problems: PolicyProblem[] };

export function readPolicyDocuments(file: string, text: string): ReadDocumentsResult {
  const parsed = parseAllDocuments(text, { prettyErrors: true, uniqueKeys: true });
  const documents = Array.isArray(parsed) ? parsed : [parsed];
  const problems: PolicyProblem[] = [];
  const several = documents.length > 1;
  const values: RawPolicyDocument[] = [];
  documents.forEach((document, index) => {
    const number = several ? index + 1 : undefined;
    for (const error of document.errors) {
      const position = error.linePos?.[0];
      const where = position === undefined ? '' : ` at line ${position.line}, column ${position.col}`;
      const reason = (error.message.split('\n')[0] ?? error.code).replace(/ at line \d+, column \d+:?$/, '');
      problems.push({ file, path: '', message: `YAML syntax error${where}: ${reason}`, ...(number === undefined ? {} : { document: number }) });
    }
    if (document.errors.length === 0 && document.contents !== null) values.push({ document: number, value: document.toJS({ maxAliasCount: 100 }) });
  });
  if (problems.length > 0) return { ok: false, problems };
  if (values.length === 0) return { ok: false, problems: [{ file, path: '', message: 'the file holds no policy (it is empty)' }] };
  return { ok: true, documents: values };
}
