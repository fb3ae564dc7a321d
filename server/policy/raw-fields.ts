// Typed reading of raw YAML/JSON values for the validators: each reader checks one value's type
// and, when it is wrong, records a problem at the field's path and returns undefined. Validators
// built on these never throw and never stop at the first problem.
import { joinPath, type ProblemList } from './policy-problems.ts';

export type RawObject = Readonly<Record<string, unknown>>;

export function describeType(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a map';
  if (typeof value === 'string') return `the string ${JSON.stringify(value)}`;
  return `the ${typeof value} ${String(value)}`;
}

export function readObject(value: unknown, path: string, problems: ProblemList, expected = 'a map'): RawObject | undefined {
  if (typeof value === 'object' && value !== null && !Array.isArray(value)) return value as RawObject;
  problems.add(path, `expected ${expected}, got ${describeType(value)}`);
  return undefined;
}

export function readList(value: unknown, path: string, problems: ProblemList, expected = 'a list'): readonly unknown[] | undefined {
  if (Array.isArray(value)) return value;
  problems.add(path, `expected ${expected}, got ${describeType(value)}`);
  return undefined;
}

export function readString(value: unknown, path: string, problems: ProblemList, expected = 'a string'): string | undefined {
  if (typeof value === 'string') return value;
  problems.add(path, `expected ${expected}, got ${describeType(value)}`);
  return undefined;
}

/** A list of strings; reports each wrong element with its index. */
export function readStringList(value: unknown, path: string, problems: ProblemList, expected = 'a list of strings'): string[] | undefined {
  const list = readList(value, path, problems, expected);
  if (list === undefined) return undefined;
  const strings: string[] = [];
  let valid = true;
  list.forEach((item, index) => {
    const text = readString(item, joinPath(path, index), problems);
    if (text === undefined) valid = false;
    else strings.push(text);
  });
  return valid ? strings : undefined;
}

/** A map whose values must be strings (`key: value` labels). */
export function readStringMap(value: unknown, path: string, problems: ProblemList): Record<string, string> | undefined {
  const object = readObject(value, path, problems, 'a map of strings');
  if (object === undefined) return undefined;
  const result: Record<string, string> = {};
  let valid = true;
  for (const [key, item] of Object.entries(object)) {
    if (typeof item === 'string') result[key] = item;
    else {
      problems.add(joinPath(path, key), `expected a string, got ${describeType(item)}${typeof item === 'number' || typeof item === 'boolean' ? ' (quote it)' : ''}`);
      valid = false;
    }
  }
  return valid ? result : undefined;
}

export interface FieldRules {
  readonly known: readonly string[];
  /** Fields Cilium has but Weir does not implement: field -> why / what to do instead. */
  readonly unsupported?: Readonly<Record<string, string>>;
}

/** Reports every field that is unsupported or unknown (with the list of known ones). */
export function checkFields(object: RawObject, path: string, rules: FieldRules, problems: ProblemList): void {
  for (const field of Object.keys(object)) {
    if (rules.known.includes(field)) continue;
    const unsupported = rules.unsupported?.[field];
    if (unsupported !== undefined) problems.add(joinPath(path, field), `not supported by Weir: ${unsupported}`);
    else problems.add(joinPath(path, field), `unknown field; expected one of ${rules.known.join(', ')}`);
  }
}

export function isPresent(object: RawObject, field: string): boolean {
  return Object.hasOwn(object, field) && object[field] !== undefined;
}
