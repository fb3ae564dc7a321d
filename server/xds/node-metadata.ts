// Envoy's node.metadata is a google.protobuf.Struct; proto-loader hands it over as
// `{ fields: { key: { kind: 'string_value', string_value: ... } } }`. This module turns it into
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

const VALUE_KINDS = ['null_value', 'number_value', 'string_value', 'bool_value', 'struct_value', 'list_value'] as const;

function valueToJson(value: unknown): PlainJson {
  if (!isObject(value)) return null;
  const kind = typeof value['kind'] === 'string' ? value['kind'] : VALUE_KINDS.find((name) => value[name] !== undefined && value[name] !== null);
  switch (kind) {
    case 'number_value':
      return Number(value['number_value']);
    case 'string_value':
      return String(value['string_value']);
    case 'bool_value':
      return value['bool_value'] === true;
    case 'struct_value':
      return structToJson(value['struct_value']);
    case 'list_value': {
      const list = value['list_value'];
      const values = isObject(list) && Array.isArray(list['values']) ? list['values'] : [];
      return values.map(valueToJson);
    }
    default:
      return null;
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
