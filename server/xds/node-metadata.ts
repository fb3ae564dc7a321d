// Envoy's node.metadata is a google.protobuf.Struct; proto-loader hands it over as
// `{ fields: { key: { kind: 'stringValue', stringValue: ... } } }`. This module turns it into
// plain JSON so code outside server/xds (the sidecar endpoint registry) never sees protobuf shapes.
// It reads values only; what the metadata means is decided elsewhere.

export type PlainJson = null | boolean | number | string | PlainJson[] | { [key: string]: PlainJson };

/** A proto-loader Struct (or undefined/null) as a plain object; anything else becomes {}. */
export function structToJson(struct: unknown): { [key: string]: PlainJson } {
  const fields = isObject(struct) && isObject(struct['fields']) ? struct['fields'] : {};
  const result: { [key: string]: PlainJson } = {};
  for (const [key, value] of Object.entries(fields)) result[key] = valueToJson(value);
  return result;
}

// proto-loader decodes google.protobuf.Value with protobufjs' bundled descriptor, which names the
// fields in camelCase even with keepCase; accept both spellings.
const VALUE_KINDS = ['null_value', 'number_value', 'string_value', 'bool_value', 'struct_value', 'list_value'] as const;
type ValueKind = (typeof VALUE_KINDS)[number];

function valueToJson(value: unknown): PlainJson {
  if (!isObject(value)) return null;
  const member = (kind: ValueKind): unknown => value[kind] ?? value[camelCase(kind)];
  const named = typeof value['kind'] === 'string' ? VALUE_KINDS.find((kind) => kind === value['kind'] || camelCase(kind) === value['kind']) : undefined;
  const kind = named ?? VALUE_KINDS.find((candidate) => member(candidate) !== undefined && member(candidate) !== null);
  switch (kind) {
    case 'number_value':
      return Number(member(kind));
    case 'string_value':
      return String(member(kind));
    case 'bool_value':
      return member(kind) === true;
    case 'struct_value':
      return structToJson(member(kind));
    case 'list_value': {
      const list = member(kind);
      const values = isObject(list) && Array.isArray(list['values']) ? list['values'] : [];
      return values.map(valueToJson);
    }
    default:
      return null;
  }
}

function camelCase(name: string): string {
  return name.replace(/_([a-z])/g, (_match, letter: string) => letter.toUpperCase());
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
