// Validates `toPorts[].rules.http` (Cilium's PortRuleHTTP list) and compiles each entry into an
// HTTP rule (l7/http-rules.ts): `method`, `path`, `host` are regexes over the whole value;
// `headers` items are `Name` (present) or `Name: value` (exact value), split as Cilium splits
// them (at the first space, one trailing `:` dropped from the name); `headerMatches` items
// `{name, value}` require the exact value (presence when value is empty). Mismatch actions and
// Kubernetes secrets are rejected: Weir only matches, it never rewrites a request.
import { anchoredRegexConstraint, headerKey, HTTP_DOCS_PATH } from './l7/http-rules.ts';
import type { CompiledL7Constraint, CompiledL7Rule } from './l7/l7-rule-types.ts';
import { joinPath, type ProblemList } from './policy-problems.ts';
import { checkFields, isPresent, readList, readObject, readString, type RawObject } from './raw-fields.ts';

const RULE_FIELDS = ['method', 'path', 'host', 'headers', 'headerMatches'] as const;
const HEADER_MATCH_FIELDS = ['name', 'value', 'secret', 'mismatch'] as const;
const CILIUM_MISMATCH_ACTIONS = ['LOG', 'ADD', 'DELETE', 'REPLACE'];

/** The compiled rules of one `http` list; undefined after reporting problems. */
export function validateHttpRules(value: unknown, path: string, problems: ProblemList): CompiledL7Rule[] | undefined {
  const entries = readList(value, path, problems, 'a list of HTTP rules ({method, path, host, headers, headerMatches})');
  if (entries === undefined) return undefined;
  if (entries.length === 0) {
    problems.add(path, 'an empty list allows nothing; use [{}] to allow every request, or remove the rules');
    return undefined;
  }
  const before = problems.count;
  const rules = entries.map((entry, index) => validateHttpRule(entry, joinPath(path, index), problems));
  return problems.count === before ? rules.filter((rule): rule is CompiledL7Rule => rule !== undefined) : undefined;
}

function validateHttpRule(value: unknown, path: string, problems: ProblemList): CompiledL7Rule | undefined {
  const object = readObject(value, path, problems, 'an HTTP rule {method, path, host, headers, headerMatches}');
  if (object === undefined) return undefined;
  checkFields(object, path, { known: RULE_FIELDS }, problems);
  const rule = new HttpRuleBuilder(problems);
  for (const key of ['method', 'path', 'host'] as const) {
    if (!isPresent(object, key)) continue;
    const source = readString(object[key], joinPath(path, key), problems, 'a regular expression');
    if (source === undefined || source === '') continue; // Cilium: empty means any
    const constraint = anchoredRegexConstraint(key, source, (_key, message) => problems.add(joinPath(path, key), message));
    if (constraint !== undefined) rule.set(key, constraint);
  }
  if (isPresent(object, 'headers')) readHeaders(object['headers'], joinPath(path, 'headers'), rule, problems);
  if (isPresent(object, 'headerMatches')) readHeaderMatches(object['headerMatches'], joinPath(path, 'headerMatches'), rule, problems);
  return rule.compiled();
}

// `Name` or `Name: value`, split as Cilium does: at the first space; the name loses one trailing
// `:`; an empty value (`Name: `) matches any value, as Envoy's empty exact match does.
function readHeaders(value: unknown, path: string, rule: HttpRuleBuilder, problems: ProblemList): void {
  const items = readList(value, path, problems, 'a list of "Name" or "Name: value" strings');
  items?.forEach((item, index) => {
    const itemPath = joinPath(path, index);
    const text = readString(item, itemPath, problems, 'a "Name" or "Name: value" string');
    if (text === undefined) return;
    const space = text.indexOf(' ');
    if (space < 0) {
      rule.requireHeader(text, undefined, itemPath);
      return;
    }
    const name = text.slice(0, space).replace(/:$/, '');
    const headerValue = text.slice(space + 1);
    rule.requireHeader(name, headerValue === '' ? undefined : headerValue, itemPath);
  });
}

function readHeaderMatches(value: unknown, path: string, rule: HttpRuleBuilder, problems: ProblemList): void {
  const items = readList(value, path, problems, 'a list of {name, value}');
  items?.forEach((item, index) => {
    const itemPath = joinPath(path, index);
    const object = readObject(item, itemPath, problems, 'a map {name, value}');
    if (object === undefined) return;
    checkFields(object, itemPath, { known: HEADER_MATCH_FIELDS }, problems);
    if (isPresent(object, 'secret')) {
      problems.add(joinPath(itemPath, 'secret'), 'not supported by Weir: header values from Kubernetes secrets; write the value inline');
    }
    if (isPresent(object, 'mismatch')) checkMismatch(object, joinPath(itemPath, 'mismatch'), problems);
    const name = readString(object['name'], joinPath(itemPath, 'name'), problems, 'a header name');
    const headerValue = isPresent(object, 'value') ? readString(object['value'], joinPath(itemPath, 'value'), problems, 'a string') : '';
    if (name === undefined || headerValue === undefined) return;
    rule.requireHeader(name, headerValue === '' ? undefined : headerValue, joinPath(itemPath, 'name'));
  });
}

function checkMismatch(object: RawObject, path: string, problems: ProblemList): void {
  const action = object['mismatch'];
  if (action === '' || action === null) return;
  if (typeof action === 'string' && CILIUM_MISMATCH_ACTIONS.includes(action)) {
    problems.add(path, `not supported by Weir: mismatch ${action} lets a request through with its header logged, added, deleted or replaced; Weir only matches (omit mismatch to require the value)`);
  } else {
    problems.add(path, `unknown mismatch action ${JSON.stringify(action)}; Cilium's are ${CILIUM_MISMATCH_ACTIONS.join(', ')}, and Weir supports none of them`);
  }
}

// RFC 9110 token characters; a pseudo-header (`:authority`) is `:` followed by a token.
const HEADER_NAME = /^:?[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

// Collects one rule's constraints; a header named twice must agree with itself.
class HttpRuleBuilder {
  private readonly constraints: Record<string, CompiledL7Constraint> = {};
  private valid = true;

  constructor(private readonly problems: ProblemList) {}

  set(key: string, constraint: CompiledL7Constraint): void {
    this.constraints[key] = constraint;
  }

  requireHeader(name: string, value: string | undefined, path: string): void {
    if (!HEADER_NAME.test(name)) {
      this.fail(path, `${JSON.stringify(name)} is not a valid header name; write "Name" (present) or "Name: value" (exact value), see ${HTTP_DOCS_PATH}`);
      return;
    }
    const key = headerKey(name);
    const wanted: CompiledL7Constraint = value === undefined ? { match: 'present' } : { match: 'exact', value };
    const earlier = this.constraints[key];
    if (earlier === undefined || earlier.match === 'present') this.constraints[key] = wanted;
    else if (wanted.match === 'exact' && earlier.match === 'exact' && earlier.value !== wanted.value) {
      this.fail(path, `header ${name} must equal both ${JSON.stringify(earlier.value)} and ${JSON.stringify(wanted.value)}, so no request can match; write two rules to allow either`);
    }
  }

  compiled(): CompiledL7Rule | undefined {
    return this.valid ? this.constraints : undefined;
  }

  private fail(path: string, message: string): void {
    this.problems.add(path, message);
    this.valid = false;
  }
}
