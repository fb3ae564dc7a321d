// Reads the "rules" array of the plugin configuration into a RuleSet, checking each key against
// the parser's RuleSchema. Layout (docs/parser-sdk.md "Rules"): each rule is an object mapping a
// rule key to a string (exact match) or to {"exact": "..."}, {"prefix": "..."},
// {"set": ["...", ...]}, {"regex": "<source>", "dfa": {...}} or {"present": true} (the key only
// has to be there); a schema may name further set
// fields (RuleSchema.setFields). Problems are reported as `rules[i].key: reason` through the
// JSON reader.
import { JsonKind, JsonReader } from './json-reader';
import { Constraint, ConstraintKind, Rule, RuleSchema, RuleSet } from './rules';
import { Dfa } from './dfa';

export function readRules(reader: JsonReader, schema: RuleSchema): RuleSet | null {
  const rules = new RuleSet();
  if (!reader.beginArray()) return null;
  let index = 0;
  while (reader.nextElement()) {
    const rule = readRule(reader, schema, 'rules[' + index.toString() + ']');
    if (rule === null) return null;
    rules.rules.push(rule);
    index++;
  }
  return reader.failed ? null : rules;
}

function readRule(reader: JsonReader, schema: RuleSchema, where: string): Rule | null {
  const rule = new Rule();
  if (!reader.beginObject()) {
    reader.problem = where + ': a rule must be an object of rule keys (' + schema.keys.join(', ') + ')';
    return null;
  }
  while (true) {
    const key = reader.nextKey();
    if (key === null) break;
    const keyId = schema.keyId(key);
    if (keyId < 0) {
      reader.problem = where + ': unknown rule key "' + key + '"; this parser accepts ' + schema.keys.join(', ');
      return null;
    }
    if (rule.constraintOn(keyId) !== null) {
      reader.problem = where + ': rule key "' + key + '" appears twice';
      return null;
    }
    const constraint = readConstraint(reader, schema, keyId, where + '.' + key);
    if (constraint === null) return null;
    rule.constraints.push(constraint);
  }
  if (reader.failed) return null;
  const invalid = schema.validateRule(rule);
  if (invalid !== null) {
    reader.problem = where + ': ' + invalid;
    return null;
  }
  return rule;
}

function readConstraint(reader: JsonReader, schema: RuleSchema, keyId: i32, where: string): Constraint | null {
  const kind = reader.peekKind();
  if (kind == JsonKind.String) return exactConstraint(keyId, reader.readString());
  if (kind != JsonKind.Object) {
    reader.problem = where + ': expected a string (exact match) or an object with "exact", "prefix", "set", "regex"+"dfa" or "present"';
    return null;
  }
  reader.beginObject();
  const setFields = schema.setFields(keyId);
  let exact: Constraint | null = null;
  let prefix: Constraint | null = null;
  let regex: Constraint | null = null;
  let set: Constraint | null = null;
  let present: Constraint | null = null;
  while (true) {
    const field = reader.nextKey();
    if (field === null) break;
    if (field == 'exact') exact = exactConstraint(keyId, reader.readString());
    else if (field == 'prefix') prefix = new Constraint(keyId, ConstraintKind.Prefix, String.UTF8.encode(reader.readString()), null);
    else if (field == 'dfa') {
      const dfa = readDfa(reader, where + '.dfa');
      if (dfa === null) return null;
      regex = new Constraint(keyId, ConstraintKind.Regex, null, dfa);
    } else if (field == 'present') {
      if (!reader.readBool()) {
        if (!reader.failed) reader.problem = where + '.present: only true is meaningful (omit the key to allow any request)';
        return null;
      }
      present = new Constraint(keyId, ConstraintKind.Present, null, null);
    } else if (field == 'set' || setFields.includes(field)) {
      if (set === null) set = new Constraint(keyId, ConstraintKind.Set, null, null);
      if (!readSetMembers(reader, schema, keyId, field, where + '.' + field, set)) return null;
    } else reader.skipValue(); // "regex" (the source, for humans) and unknown fields
  }
  if (reader.failed) return null;
  // The most specific form wins: a set (a group's expansion) over its name in "exact", a prefix
  // over the DFA the server compiled from it.
  if (set !== null) return set;
  if (prefix !== null) return prefix;
  if (regex !== null) return regex;
  if (exact === null && present !== null) return present;
  if (exact === null) reader.problem = where + ': needs "exact" or "dfa" (or "prefix", "set", "present")';
  return exact;
}

// Adds the elements of one set field (strings, or integers taken as their decimal text) to `set`.
function readSetMembers(reader: JsonReader, schema: RuleSchema, keyId: i32, field: string, where: string, set: Constraint): bool {
  if (!reader.beginArray()) return false;
  let index = 0;
  while (reader.nextElement()) {
    const elementWhere = where + '[' + index.toString() + ']';
    let element: string;
    if (reader.peekKind() == JsonKind.String) element = reader.readString();
    else element = reader.readInteger(elementWhere, -2147483648.0, 2147483647.0, 0).toString();
    if (reader.failed) return false;
    const member = schema.setMember(keyId, field, element);
    if (member === null) {
      reader.problem = elementWhere + ': "' + element + '" is not valid here';
      return false;
    }
    set.members.push(String.UTF8.encode(member));
    index++;
  }
  return !reader.failed;
}

function exactConstraint(keyId: i32, value: string): Constraint {
  return new Constraint(keyId, ConstraintKind.Exact, String.UTF8.encode(value), null);
}

function readDfa(reader: JsonReader, where: string): Dfa | null {
  let classes = new Array<i32>();
  let transitions = new Array<i32>();
  let accepting = new Array<i32>();
  let classCount: i32 = 0;
  let start: i32 = 0;
  if (!reader.beginObject()) return null;
  while (true) {
    const field = reader.nextKey();
    if (field === null) break;
    if (field == 'classCount') classCount = <i32>reader.readInteger(where + '.classCount', 1, 256, 0);
    else if (field == 'start') start = <i32>reader.readInteger(where + '.start', 0, 16777216.0, 0);
    else if (field == 'classes') classes = readIntegers(reader, where + '.classes', 0, 255);
    else if (field == 'transitions') transitions = readIntegers(reader, where + '.transitions', -1, 16777216.0);
    else if (field == 'accepting') accepting = readIntegers(reader, where + '.accepting', 0, 16777216.0);
    else reader.skipValue();
  }
  if (reader.failed) return null;
  const problem = new Array<string>();
  const dfa = Dfa.fromParts(classes, classCount, transitions, accepting, start, problem);
  if (dfa === null) reader.problem = where + ': ' + (problem.length > 0 ? problem[0] : 'invalid table');
  return dfa;
}

function readIntegers(reader: JsonReader, where: string, min: f64, max: f64): Array<i32> {
  const values = new Array<i32>();
  if (!reader.beginArray()) return values;
  while (reader.nextElement()) {
    values.push(<i32>reader.readInteger(where + '[' + values.length.toString() + ']', min, max, 0));
    if (reader.failed) break;
  }
  return values;
}
