// HTTP rules (Cilium's PortRuleHTTP) as compiled rules: keys `method`, `path` and `host` hold
// regexes anchored over the whole value (as Envoy's RE2 full match in Cilium), and one key
// `header:<lowercase name>` per required header holds an exact value or mere presence. The policy
// YAML form (`rules.http`) is read in validate-http.ts; this file owns the key names, the anchoring
// and the reference matcher that decide.ts and the filter tests use. See docs/http.md.
import { compileWholeValueRegex } from '../regex/compile-regex.ts';
import { constraintHolds } from './constraint-matching.ts';
import type { CompiledL7Constraint, CompiledL7Rule, L7ParserRules, RuleProblemSink } from './l7-rule-types.ts';

export const HTTP_L7PROTO = 'http';
export const HTTP_DOCS_PATH = 'docs/http.md';

/** The request-line keys and where the filter reads each (Envoy's pseudo-headers). */
export const HTTP_REQUEST_KEYS = ['method', 'path', 'host'] as const;
export type HttpRequestKey = (typeof HTTP_REQUEST_KEYS)[number];

/** A header requirement's rule key: `header:` + the header name in lowercase. */
export const HTTP_HEADER_KEY_PREFIX = 'header:';

export function headerKey(name: string): string {
  return HTTP_HEADER_KEY_PREFIX + name.toLowerCase();
}

/**
 * A regex matched against the whole value, as Cilium's Envoy matches path, method and host (RE2
 * full match): `/public` does not match `/publicity`. The source is kept as written.
 */
export function anchoredRegexConstraint(key: string, source: string, report: RuleProblemSink): CompiledL7Constraint | undefined {
  const compiled = compileWholeValueRegex(source);
  if (!compiled.ok) {
    report(key, compiled.reason);
    return undefined;
  }
  return { match: 'regex', source, dfa: compiled.dfa };
}

/**
 * The http entry of the registry, for decide() and the filter tests. A request is
 * `{ method, path, host, 'header:<name>': value }`; several values of one header are joined with
 * `,` (as Envoy does before matching), an absent header or pseudo-header is left out.
 */
export const httpRules: L7ParserRules = {
  l7proto: HTTP_L7PROTO,
  docsPath: HTTP_DOCS_PATH,
  keys: HTTP_REQUEST_KEYS,
  compileRule(_rule, report) {
    report(undefined, 'HTTP rules are written as rules.http (Cilium\'s PortRuleHTTP: method, path, host, headers, headerMatches), not with l7proto: http');
    return undefined;
  },
  matches(rule: CompiledL7Rule, request) {
    for (const [key, constraint] of Object.entries(rule)) {
      const value = request[key];
      if (typeof value !== 'string' || !constraintHolds(constraint, value)) return false;
    }
    return true;
  },
};
