// One import problem: which file (and YAML document), which field, and what is wrong. Validators
// collect every problem instead of stopping at the first, and report them in one format:
// `policies/db.yaml: specs[0].ingress[1].toPorts[0].rules.l7[3].command: unknown memcached command "gett"; ...`.

export interface PolicyProblem {
  readonly file: string;
  /** 1-based YAML document number; set only when the file holds several documents. */
  readonly document?: number;
  /** Field path inside the document, e.g. `specs[0].ingress[1]`; empty for the whole document. */
  readonly path: string;
  readonly message: string;
}

export function formatProblem(problem: PolicyProblem): string {
  const where = problem.document === undefined ? problem.file : `${problem.file} document ${problem.document}`;
  return problem.path === '' ? `${where}: ${problem.message}` : `${where}: ${problem.path}: ${problem.message}`;
}

/** Collects problems for one document; validators push `(path, message)` and never throw. */
export class ProblemList {
  readonly problems: PolicyProblem[] = [];

  constructor(
    private readonly file: string,
    private readonly document?: number,
  ) {}

  add(path: string, message: string): void {
    this.problems.push(
      this.document === undefined ? { file: this.file, path, message } : { file: this.file, document: this.document, path, message },
    );
  }

  get count(): number {
    return this.problems.length;
  }
}

/** Thrown by callers that want an exception: carries every problem, formatted one per line. */
export class PolicyImportError extends Error {
  constructor(readonly problems: readonly PolicyProblem[]) {
    super(`policy rejected (${problems.length} problem${problems.length === 1 ? '' : 's'}):\n${problems.map(formatProblem).join('\n')}`);
    this.name = 'PolicyImportError';
  }
}

export function joinPath(base: string, field: string | number): string {
  if (typeof field === 'number') return `${base}[${field}]`;
  return base === '' ? field : `${base}.${field}`;
}
