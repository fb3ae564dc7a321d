// Builds the Kafka parser's protocol table (filters/parsers/kafka/protocol-table.ts) from the
// schema dumps SchemaDump.java printed for several Kafka versions: every API key, every request and
// response version, the header version of each, and each body's layout as a small bytecode that
// the parser's walker runs (filters/parsers/kafka/message-walker.ts). Also marks where a request
// names topics, partitions, errors and the few fields the parser acts on, by rules written below
// (the dumps carry only names and types). A version whose layout differs between the dumps is
// left out: the parser then refuses it, because it cannot know which layout its broker reads.
// Usage: README.md beside this file.
import fs from 'node:fs';
import path from 'node:path';

interface DumpField {
  name: string;
  type: string;
  nullable?: boolean;
  element?: Omit<DumpField, 'name'>;
  fields?: DumpField[];
  tags?: { tag: number; field: DumpField }[];
}
interface DumpVersion {
  version: number;
  requestHeader: number;
  responseHeader: number;
  request: DumpField[];
  response: DumpField[];
}
interface DumpApi {
  key: number;
  name: string;
  versions: DumpVersion[];
}

// Opcodes and roles: must match filters/parsers/kafka/protocol-table.ts's header (written below).
const OP: Record<string, number> = {
  BOOLEAN: 1, INT8: 2, INT16: 3, UINT16: 4, INT32: 5, UNSIGNED_INT32: 6, INT64: 7, UUID: 8, FLOAT64: 9, VARINT: 10, VARLONG: 11,
  STRING: 16, NULLABLE_STRING: 17, COMPACT_STRING: 18, COMPACT_NULLABLE_STRING: 19,
  BYTES: 20, NULLABLE_BYTES: 21, COMPACT_BYTES: 22, COMPACT_NULLABLE_BYTES: 23,
  RECORDS: 24, NULLABLE_RECORDS: 25, COMPACT_RECORDS: 26, COMPACT_NULLABLE_RECORDS: 27,
};
const ARRAY_OP = { ARRAY: 32, NULLABLE_ARRAY: 33, COMPACT_ARRAY: 34, COMPACT_NULLABLE_ARRAY: 35 };
const STRUCT_OP = 48;
const NULLABLE_STRUCT_OP = 49;
const TAGGED_OP = 50;
const ROLE_FLAG = 0x80;

const enum Role {
  TopicName = 1,
  TopicId = 2,
  TopicEntries = 3, // an array whose elements each name one topic
  PartitionIndex = 4,
  ErrorCode = 5,
  TopicRegex = 6, // a subscription pattern: may reach any topic
  ResourceType = 7,
  ResourceName = 8, // a topic when the preceding ResourceType is 2
  Acks = 9,
  SessionId = 10,
  SessionEpoch = 11,
  Partitions = 12, // an array of partitions inside a topic entry (structs with a PartitionIndex, or INT32s)
  TopicNames = 13, // an array of topic name strings
  AllTopicsWhenNull = 14, // a nullable topic array whose null means every topic
  ApiVersionMax = 15, // ApiVersions response: an API's max_version
  ApiVersionKey = 16, // ApiVersions response: an API key
  ApiVersionsArray = 17, // ApiVersions response: the api_keys array
  MetadataTopics = 18, // Metadata request/response: the topics array
  MinusOne = 19, // a response INT32 whose "none" is -1 (a node, leader or epoch), for deny responses
}

// A null topic array means "every topic" in these APIs (a request for all of them); elsewhere null
// means none (ConsumerGroupHeartbeat: "unchanged").
const ALL_TOPICS_WHEN_NULL = new Set([3, 9, 35, 46, 90]);
// ACL APIs name topics only as the resource an ACL is about; they are cluster operations.
const NO_TOPIC_HEURISTICS = new Set([29, 30, 31]);
const CONFIG_RESOURCE_APIS = new Set([32, 33, 44]);

const TOPIC_ARRAY = /topic/i;
// Response INT32 fields whose neutral value is -1: a deny response must not point the client at
// node 0 (Fetch's preferred_read_replica) or claim a leader.
const MINUS_ONE_INT32 = new Set(['preferred_read_replica', 'leader_id', 'leader_epoch', 'node_id', 'coordinator_id', 'controller_id', 'member_epoch', 'generation_id']);
const TOPIC_FIELD_IN_ENTRY = new Set(['name', 'topic', 'topic_name']);
const PARTITION_INDEX = new Set(['partition', 'partition_index', 'index']);

function main(): void {
  const dumpFiles = process.argv.slice(2);
  if (dumpFiles.length === 0) {
    console.error('usage: tsx scripts/kafka-protocol/generate.ts <dump.json>... (oldest Kafka first)');
    process.exit(2);
  }
  const dumps = dumpFiles.map((file) => ({ file, apis: (JSON.parse(fs.readFileSync(file, 'utf8')) as { apis: DumpApi[] }).apis }));
  const merged = mergeDumps(dumps);
  const sources = dumps.map((d) => path.basename(d.file));
  fs.writeFileSync(TABLE_FILE, render(merged, sources));
  fs.writeFileSync(API_KEYS_FILE, renderApiKeys(merged, sources));
  console.log(`wrote ${path.relative(process.cwd(), TABLE_FILE)} and ${path.relative(process.cwd(), API_KEYS_FILE)}`);
}

const repoRoot = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..', '..');
const TABLE_FILE = path.join(repoRoot, 'filters', 'parsers', 'kafka', 'protocol-table.ts');
const API_KEYS_FILE = path.join(repoRoot, 'server', 'policy', 'l7', 'kafka-api-keys.ts');

// The control server's list of API keys (names and version ranges), for validating `apiKey` and
// `apiVersion` rules against what the filter reads.
function renderApiKeys(merged: Map<number, MergedVersion[]>, sources: string[]): string {
  const rows: string[] = [];
  for (const [key, versions] of [...merged.entries()].sort((a, b) => a[0] - b[0])) {
    if (versions.length === 0) continue;
    rows.push(`  { key: ${key}, name: '${versions[0]!.apiName}', versions: [${versions.map((v) => v.version).join(', ')}] },`);
  }
  return `// GENERATED by scripts/kafka-protocol/generate.ts from ${sources.join(', ')}; do not edit.
// Every Kafka API key the Kafka filter reads, with its name and the versions it frames.
export interface KafkaApiKey {
  readonly key: number;
  readonly name: string;
  readonly versions: readonly number[];
}

export const KAFKA_API_KEYS: readonly KafkaApiKey[] = [
${rows.join('\n')}
];
`;
}

interface MergedVersion extends DumpVersion {
  apiName: string;
}

// Union of versions per key. Where dumps share a version, their layouts are merged field by field
// (mergeFields): names come from the later dump, and a string, bytes, records or array field that
// is nullable in one dump and not in the other is taken as not nullable (the stricter reading; a
// null there is refused either way, it never re-frames what follows). A version whose layouts
// differ otherwise (a field added, a nullable struct with its marker byte) is dropped.
function mergeDumps(dumps: { file: string; apis: DumpApi[] }[]): Map<number, MergedVersion[]> {
  const byKey = new Map<number, Map<number, MergedVersion>>();
  const conflicts: string[] = [];
  for (const dump of dumps) {
    for (const api of dump.apis) {
      const versions = byKey.get(api.key) ?? new Map<number, MergedVersion>();
      byKey.set(api.key, versions);
      for (const version of api.versions) {
        const existing = versions.get(version.version);
        if (existing === undefined) {
          versions.set(version.version, { ...version, apiName: api.name });
          continue;
        }
        if (existing.request.length === 0 && existing.response.length === 0 && existing.requestHeader < 0) continue; // already in conflict
        const request = mergeFields(existing.request, version.request);
        const response = mergeFields(existing.response, version.response);
        if (request === undefined || response === undefined || existing.requestHeader !== version.requestHeader || existing.responseHeader !== version.responseHeader) {
          conflicts.push(`${api.name} v${version.version}`);
          versions.set(version.version, { ...version, apiName: api.name, request: [], response: [], requestHeader: -1 });
        } else {
          versions.set(version.version, { ...version, apiName: api.name, request, response });
        }
      }
    }
  }
  for (const conflict of conflicts) console.log(`left out (layouts differ between dumps): ${conflict}`);
  const result = new Map<number, MergedVersion[]>();
  for (const [key, versions] of byKey) {
    result.set(key, [...versions.values()].filter((v) => v.requestHeader >= 0).sort((a, b) => a.version - b.version));
  }
  return result;
}

const NON_NULL_OF: Record<string, string> = {
  NULLABLE_STRING: 'STRING', COMPACT_NULLABLE_STRING: 'COMPACT_STRING', NULLABLE_BYTES: 'BYTES', COMPACT_NULLABLE_BYTES: 'COMPACT_BYTES',
  NULLABLE_RECORDS: 'RECORDS', COMPACT_NULLABLE_RECORDS: 'COMPACT_RECORDS',
};

function mergeFields(older: DumpField[], newer: DumpField[]): DumpField[] | undefined {
  if (older.length !== newer.length) return undefined;
  const merged: DumpField[] = [];
  for (let i = 0; i < older.length; i++) {
    const field = mergeField(older[i]!, newer[i]!);
    if (field === undefined) return undefined;
    merged.push({ ...field, name: newer[i]!.name });
  }
  return merged;
}

function mergeField(older: Omit<DumpField, 'name'>, newer: Omit<DumpField, 'name'>): Omit<DumpField, 'name'> | undefined {
  if (older.type !== newer.type) {
    const strict = NON_NULL_OF[older.type] === newer.type ? newer : NON_NULL_OF[newer.type] === older.type ? older : undefined;
    return strict === undefined ? undefined : { ...newer, type: strict.type };
  }
  if (newer.type === 'STRUCT') {
    if (older.nullable !== newer.nullable) return undefined;
    const fields = mergeFields(older.fields!, newer.fields!);
    return fields === undefined ? undefined : { ...newer, fields };
  }
  if (newer.type === 'ARRAY' || newer.type === 'COMPACT_ARRAY') {
    const element = mergeField(older.element!, newer.element!);
    return element === undefined ? undefined : { ...newer, nullable: older.nullable === true && newer.nullable === true, element };
  }
  if (newer.type === 'TAGGED_FIELDS') {
    const tags = newer.tags!;
    const olderTags = older.tags!;
    if (tags.length !== olderTags.length) return undefined;
    const mergedTags: { tag: number; field: DumpField }[] = [];
    for (let i = 0; i < tags.length; i++) {
      if (tags[i]!.tag !== olderTags[i]!.tag) return undefined;
      const field = mergeField(olderTags[i]!.field, tags[i]!.field);
      if (field === undefined) return undefined;
      mergedTags.push({ tag: tags[i]!.tag, field: { ...field, name: tags[i]!.field.name } });
    }
    return { ...newer, tags: mergedTags };
  }
  return newer;
}

interface Context {
  apiKey: number;
  request: boolean;
  // The enclosing array's name and role when the struct being encoded is an array element.
  arrayName: string;
  inTopicEntry: boolean;
  // Every role assigned in this body, shared by all nested contexts.
  roles: Set<Role>;
}

function encodeFields(fields: DumpField[], ctx: Context, out: number[]): void {
  if (fields.length > 255) throw new Error('struct with more than 255 fields');
  out.push(fields.length);
  for (const field of fields) encodeField(field, roleOf(field, ctx), ctx, out);
}

function encodeField(field: Omit<DumpField, 'name'> & { name?: string }, role: Role | 0, ctx: Context, out: number[]): void {
  const name = field.name ?? '';
  const withRole = (op: number): void => {
    if (role === 0) out.push(op);
    else {
      out.push(op | ROLE_FLAG, role);
      ctx.roles.add(role);
    }
  };
  if (field.type in OP) return withRole(OP[field.type]!);
  if (field.type === 'ARRAY' || field.type === 'COMPACT_ARRAY') {
    const op = field.type === 'ARRAY' ? (field.nullable === true ? ARRAY_OP.NULLABLE_ARRAY : ARRAY_OP.ARRAY) : field.nullable === true ? ARRAY_OP.COMPACT_NULLABLE_ARRAY : ARRAY_OP.COMPACT_ARRAY;
    withRole(op);
    const element = field.element!;
    const entryIsTopic = role === Role.TopicEntries || role === Role.AllTopicsWhenNull || role === Role.MetadataTopics;
    const elementCtx: Context = { ...ctx, arrayName: name, inTopicEntry: entryIsTopic };
    if (element.type === 'STRUCT') {
      out.push(element.nullable === true ? NULLABLE_STRUCT_OP : STRUCT_OP);
      encodeFields(element.fields!, elementCtx, out);
    } else {
      const elementRole = role === Role.TopicNames ? Role.TopicName : 0;
      if (elementRole !== 0) ctx.roles.add(elementRole);
      encodeField(element, elementRole, elementCtx, out);
    }
    return;
  }
  if (field.type === 'STRUCT') {
    withRole(field.nullable === true ? NULLABLE_STRUCT_OP : STRUCT_OP);
    encodeFields(field.fields!, { ...ctx, arrayName: name, inTopicEntry: false }, out);
    return;
  }
  if (field.type === 'TAGGED_FIELDS') {
    out.push(TAGGED_OP, field.tags!.length);
    for (const tag of field.tags!) {
      if (tag.tag > 255) throw new Error('tag above 255');
      out.push(tag.tag);
      encodeField(tag.field, roleOf(tag.field, ctx), ctx, out);
    }
    return;
  }
  throw new Error(`unknown type ${field.type}`);
}

const STRING_TYPES = new Set(['STRING', 'NULLABLE_STRING', 'COMPACT_STRING', 'COMPACT_NULLABLE_STRING']);

function roleOf(field: DumpField, ctx: Context): Role | 0 {
  const { name, type } = field;
  const isArray = type.endsWith('ARRAY');
  const elementStruct = isArray && field.element?.type === 'STRUCT' ? field.element : undefined;
  if (name.endsWith('error_code') && type === 'INT16') return Role.ErrorCode;
  if (ctx.apiKey === 18 && !ctx.request) {
    if (name === 'api_keys') return Role.ApiVersionsArray;
    if (ctx.arrayName === 'api_keys' && name === 'max_version') return Role.ApiVersionMax;
    if (ctx.arrayName === 'api_keys' && name === 'api_key') return Role.ApiVersionKey;
  }
  if (!ctx.request && type === 'INT32' && MINUS_ONE_INT32.has(name)) return Role.MinusOne;
  if (ctx.request && ctx.apiKey === 0 && name === 'acks') return Role.Acks;
  if (ctx.request && ctx.apiKey === 1 && name === 'session_id') return Role.SessionId;
  if (ctx.request && ctx.apiKey === 1 && name === 'session_epoch') return Role.SessionEpoch;
  if (NO_TOPIC_HEURISTICS.has(ctx.apiKey)) return 0;
  if (CONFIG_RESOURCE_APIS.has(ctx.apiKey) && ctx.request) {
    if (name === 'resource_type') return Role.ResourceType;
    if (name === 'resource_name') return Role.ResourceName;
  }
  if (ctx.apiKey === 3 && name === 'topics' && elementStruct !== undefined) return Role.MetadataTopics;
  // Fetch's forgotten topics leave a fetch session; the parser makes every fetch sessionless, so
  // the broker ignores them and they name no topic the request reads.
  if (ctx.request && (name === 'forgotten_topics_data' || ctx.arrayName === 'forgotten_topics_data')) return 0;
  if (elementStruct !== undefined && isTopicEntry(name, elementStruct.fields!, ctx)) {
    return field.nullable === true && ctx.request && ALL_TOPICS_WHEN_NULL.has(ctx.apiKey) ? Role.AllTopicsWhenNull : Role.TopicEntries;
  }
  if (isArray && field.element !== undefined && STRING_TYPES.has(field.element.type) && TOPIC_ARRAY.test(name)) {
    return /regex/i.test(name) ? Role.TopicRegex : Role.TopicNames;
  }
  if (ctx.inTopicEntry && isArray && PARTITION_INDEX_ARRAY(field)) return Role.Partitions;
  if (PARTITION_INDEX.has(name) && type === 'INT32' && ctx.arrayName !== '') return Role.PartitionIndex;
  if (type === 'UUID' && name === 'topic_id') return Role.TopicId;
  if (STRING_TYPES.has(type)) {
    if (ctx.inTopicEntry && TOPIC_FIELD_IN_ENTRY.has(name)) return Role.TopicName;
    if (/topic/i.test(name)) return /regex/i.test(name) ? Role.TopicRegex : Role.TopicName;
  }
  return 0;
}

// An array of partitions: structs that carry a partition index, or plain INT32 partition numbers.
function PARTITION_INDEX_ARRAY(field: DumpField): boolean {
  const element = field.element!;
  if (element.type === 'INT32') return /partition/i.test(field.name);
  if (element.type !== 'STRUCT') return false;
  return element.fields!.some((f) => PARTITION_INDEX.has(f.name) && f.type === 'INT32');
}

// An array whose elements each name one topic: named like a topic list, or (responses) carrying a
// topic id or topic name field.
function isTopicEntry(arrayName: string, fields: DumpField[], ctx: Context): boolean {
  const hasTopicField = fields.some((f) => (f.name === 'topic_id' && f.type === 'UUID') || (STRING_TYPES.has(f.type) && TOPIC_FIELD_IN_ENTRY.has(f.name)));
  if (!hasTopicField) return false;
  if (TOPIC_ARRAY.test(arrayName)) return true;
  if (fields.some((f) => f.name === 'topic_id' || f.name === 'topic' || f.name === 'topic_name')) return true;
  return !ctx.request && /^(responses|results)$/.test(arrayName);
}

function render(merged: Map<number, MergedVersion[]>, sources: string[]): string {
  const programs: number[] = [];
  const programIndex = new Map<string, number>();
  const program = (fields: DumpField[], ctx: Context): number => {
    const bytes: number[] = [];
    ctx.roles.clear();
    encodeFields(fields, ctx, bytes);
    const key = bytes.join(',');
    const existing = programIndex.get(key);
    if (existing !== undefined) return existing;
    const offset = programs.length;
    programs.push(...bytes);
    programIndex.set(key, offset);
    return offset;
  };
  const maxKey = Math.max(...merged.keys());
  const keyTable: number[] = [];
  const versionTable: number[] = [];
  const names: string[] = [];
  for (let key = 0; key <= maxKey; key++) {
    const versions = merged.get(key) ?? [];
    names.push(versions[0]?.apiName ?? '');
    if (versions.length === 0) {
      keyTable.push(0, 0, 0, 255);
      continue;
    }
    const first = versionTable.length / VERSION_RECORD_BYTES;
    const min = versions[0]!.version;
    const max = versions[versions.length - 1]!.version;
    keyTable.push(first & 0xff, first >> 8, min, max);
    for (let v = min; v <= max; v++) {
      const version = versions.find((x) => x.version === v);
      if (version === undefined) {
        versionTable.push(...new Array<number>(VERSION_RECORD_BYTES).fill(0xff));
        continue;
      }
      const requestRoles = new Set<Role>();
      const request = program(version.request, { apiKey: key, request: true, arrayName: '', inTopicEntry: false, roles: requestRoles });
      const topicKind = TOPIC_ROLES.some((role) => requestRoles.has(role));
      const response = program(version.response, { apiKey: key, request: false, arrayName: '', inTopicEntry: false, roles: new Set<Role>() });
      versionTable.push(version.requestHeader, version.responseHeader, topicKind ? 1 : 0, 0, ...u32(request), ...u32(response));
    }
  }
  const table = [...u32(keyTable.length), ...u32(versionTable.length), ...keyTable, ...versionTable, ...programs];
  const lines: string[] = [];
  for (let i = 0; i < table.length; i += 32) lines.push(`  ${table.slice(i, i + 32).join(', ')},`);
  return `// GENERATED by scripts/kafka-protocol/generate.ts from ${sources.join(', ')} (SchemaDump.java run on
// kafka-clients of those versions); do not edit. Layout and bytecode: protocol-table-layout.ts.
// The name of API key k is API_NAMES[k] ('' when no dumped version knows it).
export const API_NAMES: Array<string> = [${names.map((n) => `'${n}'`).join(', ')}];

export const PROTOCOL_TABLE: StaticArray<u8> = [
${lines.join('\n')}
];
`;
}

const VERSION_RECORD_BYTES = 12;

// A request with any of these names topics: Cilium's "topic API kinds", whose topic constraint applies.
const TOPIC_ROLES: readonly Role[] = [Role.TopicName, Role.TopicId, Role.TopicEntries, Role.TopicNames, Role.TopicRegex, Role.ResourceName, Role.AllTopicsWhenNull, Role.MetadataTopics];

function u32(value: number): number[] {
  return [value & 0xff, (value >> 8) & 0xff, (value >> 16) & 0xff, (value >>> 24) & 0xff];
}

main();
