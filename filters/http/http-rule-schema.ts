// The rule keys of HTTP rules as the control server compiles them (server/policy/l7/http-rules.ts):
// `method`, `path` and `host` (whole-value regex DFAs, or exact values), and one key per header a
// policy names, `header:<lowercase name>` (exact value, or present). Header keys are not known in
// advance: each new name read from a policy or from static rules gets the next key id, for the
// life of the VM, so the request record (request-headers.ts) has a slot for every one.
import { RuleSchema } from '../sdk/index';

export const enum HttpKey {
  Method = 0,
  Path = 1,
  Host = 2,
  FirstHeader = 3,
}

export const HEADER_KEY_PREFIX = 'header:';

export class HttpRuleSchema extends RuleSchema {
  // The header names of keys FirstHeader, FirstHeader + 1, ..., as bytes (lowercase).
  headerNames: Array<ArrayBuffer> = new Array<ArrayBuffer>();

  constructor() {
    super(['method', 'path', 'host']);
  }

  keyId(name: string): i32 {
    for (let i = 0; i < this.keys.length; i++) if (this.keys[i] == name) return i;
    if (!name.startsWith(HEADER_KEY_PREFIX) || name.length == HEADER_KEY_PREFIX.length) return -1;
    const lower = name.toLowerCase();
    if (lower != name) return this.keyId(lower);
    this.keys.push(name);
    this.headerNames.push(String.UTF8.encode(name.substring(HEADER_KEY_PREFIX.length)));
    return this.keys.length - 1;
  }
}
