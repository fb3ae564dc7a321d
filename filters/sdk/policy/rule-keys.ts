// A protocol's rule keys, declared once in its parser folder: each key's name, how the server
// compiles a policy value for it (exact, prefix, or a regex the server turns into a DFA), the
// values an exact key accepts, which other key's values it combines with, and the access-log field
// it fills. The filter checks rules with it (it is a RuleSchema); the module exports it as JSON
// (weir_rule_keys, module/exports.ts), the build writes that JSON beside the module as
// `<name>.rules.json`, and the control server compiles CiliumNetworkPolicy `l7` maps for any
// module in filters.dir from it (server/policy/l7/declared-rules.ts). Format: docs/writing-a-parser.md.
import { ConstraintKind, Rule, RuleSchema } from './rules';

export const RULE_KEYS_FORMAT = 'weir.rule-keys/v1';

// How the server reads a policy value for the key.
export const enum KeyMatch {
  Exact = 0, // the value as it is
  Prefix = 1, // the value starts with the policy's text
  Regex = 2, // the policy's text is a regex (unanchored search), compiled by the server into a DFA
}

export class RuleKey {
  // Exact keys: the only values a rule may name (empty: any value), case-sensitive.
  values: Array<string> = new Array<string>();
  // What one value is called in problems ("command" for r2d2's cmd); the key name by default.
  noun: string;
  // When set: a rule may constrain this key only if it constrains `onlyWithKey` to one of
  // `onlyWithValues`, or leaves it out (r2d2: file only with cmd READ or WRITE).
  onlyWithKey: string = '';
  onlyWithValues: Array<string> = new Array<string>();
  // The access-log field the key's value fills; the key name by default.
  logField: string;
  // Named groups a rule may give as the key's value, each expanding to member lists under
  // `groupFields` (memcached: `writeGroup` to its text commands and binary opcodes). The server
  // writes a group as {"exact": "<name>", "<field>": [...], ...}; setFields/setMember read it.
  groupFields: Array<string> = new Array<string>();
  groups: Array<KeyGroup> = new Array<KeyGroup>();

  constructor(
    public name: string,
    public match: KeyMatch,
  ) {
    this.noun = name;
    this.logField = name;
  }
}

// A named group of values (see RuleKey.groups); `keyless`: no other key of the rule can hold for
// its requests (memcached's stats, version, ...), so a rule may not combine them.
export class KeyGroup {
  constructor(
    public name: string,
    public members: Array<Array<string>>,
    public keyless: bool,
  ) {}
}

export class RuleKeys extends RuleSchema {
  declared: Array<RuleKey> = new Array<RuleKey>();
  // Keys of which a rule may constrain at most one.
  exclusiveKeys: Array<string> = new Array<string>();

  // `docs`: where a policy author reads about the keys (named in the server's problems).
  constructor(
    public protocol: string,
    public docs: string,
  ) {
    super(new Array<string>());
  }

  // Declares the next key (its id is the declaration order, as in RequestRecord).
  key(name: string, match: KeyMatch): RuleKeys {
    this.keys.push(name);
    this.declared.push(new RuleKey(name, match));
    return this;
  }

  // The last declared key accepts only these exact values, each called a `noun`.
  values(noun: string, values: Array<string>): RuleKeys {
    const key = this.last();
    key.noun = noun;
    key.values = values;
    return this;
  }

  // The last declared key combines only with `other` equal to one of `values` (or absent).
  onlyWith(other: string, values: Array<string>): RuleKeys {
    const key = this.last();
    key.onlyWithKey = other;
    key.onlyWithValues = values;
    return this;
  }

  // The last declared key's groups list their members under these fields (one or two).
  groupFields(first: string, second: string = ''): RuleKeys {
    const fields = this.last().groupFields;
    fields.push(first);
    if (second.length > 0) fields.push(second);
    return this;
  }

  // A group for the last declared key: its members under each group field, space-separated.
  group(name: string, first: string, second: string = ''): RuleKeys {
    return this.addGroup(name, first, second, false);
  }

  // A group whose requests carry no other key (see KeyGroup.keyless).
  keylessGroup(name: string, first: string, second: string = ''): RuleKeys {
    return this.addGroup(name, first, second, true);
  }

  // A rule may constrain at most one of `keys`.
  exclusive(keys: Array<string>): RuleKeys {
    this.exclusiveKeys = keys;
    return this;
  }

  private addGroup(name: string, first: string, second: string, keyless: bool): RuleKeys {
    const members = new Array<Array<string>>();
    members.push(words(first));
    if (this.last().groupFields.length > 1) members.push(words(second));
    this.last().groups.push(new KeyGroup(name, members, keyless));
    return this;
  }

  // The last declared key fills access-log field `field`.
  logAs(field: string): RuleKeys {
    this.last().logField = field;
    return this;
  }

  validateRule(rule: Rule): string | null {
    for (let id = 0; id < this.declared.length; id++) {
      const key = this.declared[id];
      const constraint = rule.constraintOn(id);
      if (constraint === null) continue;
      if (key.values.length > 0) {
        if (constraint.kind != ConstraintKind.Exact) return key.name + ' must be an exact ' + key.noun + ' (' + key.values.join(', ') + ')';
        const value = constraint.exactText();
        if (!key.values.includes(value)) return 'unknown ' + this.protocol + ' ' + key.name + ' "' + value + '"; use one of ' + key.values.join(', ');
      }
      if (key.onlyWithKey.length > 0) {
        const other = rule.constraintOn(this.keyId(key.onlyWithKey));
        if (other === null || other.kind != ConstraintKind.Exact) continue;
        const otherValue = other.exactText();
        if (!key.onlyWithValues.includes(otherValue)) {
          return key.name + ' applies only to ' + spokenList(key.onlyWithValues) + ' (or to rules without ' + key.onlyWithKey + '), not to ' + otherValue;
        }
      }
    }
    return null;
  }

  // The declaration as JSON (RULE_KEYS_FORMAT), for the build's manifest (once per build, not
  // on the data path).
  toJson(): string {
    let keys = '';
    for (let i = 0; i < this.declared.length; i++) {
      const key = this.declared[i];
      if (i > 0) keys += ',';
      keys += '{"name":' + jsonString(key.name) + ',"match":' + jsonString(matchName(key.match)) + ',"noun":' + jsonString(key.noun) + ',"values":' + jsonStrings(key.values);
      if (key.onlyWithKey.length > 0) keys += ',"onlyWith":{"key":' + jsonString(key.onlyWithKey) + ',"values":' + jsonStrings(key.onlyWithValues) + '}';
      keys += ',"logField":' + jsonString(key.logField);
      if (key.groups.length > 0) keys += ',"groupFields":' + jsonStrings(key.groupFields) + ',"groups":[' + groupsJson(key) + ']';
      keys += '}';
    }
    const exclusive = this.exclusiveKeys.length > 0 ? ',"exclusive":' + jsonStrings(this.exclusiveKeys) : '';
    return '{"format":' + jsonString(RULE_KEYS_FORMAT) + ',"protocol":' + jsonString(this.protocol) + ',"docs":' + jsonString(this.docs) + ',"keys":[' + keys + ']' + exclusive + '}';
  }

  private last(): RuleKey {
    // Builder misuse (a modifier before any key) is a programming error caught by the build's
    // manifest step, never reached at run time.
    return this.declared[this.declared.length - 1];
  }
}

function matchName(match: KeyMatch): string {
  if (match == KeyMatch.Prefix) return 'prefix';
  if (match == KeyMatch.Regex) return 'regex';
  return 'exact';
}

function jsonStrings(values: Array<string>): string {
  let text = '[';
  for (let i = 0; i < values.length; i++) text += (i > 0 ? ',' : '') + jsonString(values[i]);
  return text + ']';
}

// A JSON string literal: quotes, backslashes and control characters escaped.
function jsonString(text: string): string {
  let out = '"';
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code == 0x22 || code == 0x5c) out += '\\' + String.fromCharCode(code);
    else if (code < 0x20) out += '\\u00' + (code < 0x10 ? '0' : '') + code.toString(16);
    else out += String.fromCharCode(code);
  }
  return out + '"';
}

// "A", "A and B", "A, B and C".
function spokenList(values: Array<string>): string {
  if (values.length <= 1) return values.join('');
  return values.slice(0, values.length - 1).join(', ') + ' and ' + values[values.length - 1];
}

function groupsJson(key: RuleKey): string {
  let text = '';
  for (let g = 0; g < key.groups.length; g++) {
    const group = key.groups[g];
    text += (g > 0 ? ',' : '') + '{"name":' + jsonString(group.name) + ',"members":{';
    for (let f = 0; f < key.groupFields.length; f++) text += (f > 0 ? ',' : '') + jsonString(key.groupFields[f]) + ':' + jsonStrings(group.members[f]);
    text += '}' + (group.keyless ? ',"keyless":true' : '') + '}';
  }
  return text;
}

// The words of a space-separated list ('' is none).
function words(list: string): Array<string> {
  const out = new Array<string>();
  const parts = list.split(' ');
  for (let i = 0; i < parts.length; i++) if (parts[i].length > 0) out.push(parts[i]);
  return out;
}
