// What the walker found in one message, by the roles the protocol table marks: the topics it
// names (by name or by topic id, each with its partitions and, for rewriting, the byte range of
// its array element), whether it asks for every topic, a subscription pattern, Produce's acks,
// Fetch's session fields, the first top-level error code, and an ApiVersions response's entries.
// Offsets point into the view the walker read; nothing is copied. Reused per message (reset()),
// so collecting allocates only while a message has more topics than any before it.
import { ByteView } from '../../sdk/index';
import { Role } from './protocol-table-layout';
import { i16be, i32be } from './wire';

// Kafka's ConfigResource.Type.TOPIC.
const TOPIC_RESOURCE_TYPE: i32 = 2;

export class MessageFacts {
  // Per topic entry: the name's offset and length (-1: none), the topic id's offset (-1: none),
  // the element's byte range (-1 for a standalone name), and its partitions in `partitions`.
  nameOffset: Array<i32> = new Array<i32>();
  nameLength: Array<i32> = new Array<i32>();
  idOffset: Array<i32> = new Array<i32>();
  entryStart: Array<i32> = new Array<i32>();
  entryEnd: Array<i32> = new Array<i32>();
  partitionStart: Array<i32> = new Array<i32>();
  partitionCount: Array<i32> = new Array<i32>();
  partitions: Array<i32> = new Array<i32>();
  topicCount: i32 = 0;

  // A topic array whose null means every topic was null, or a subscription pattern was given.
  allTopics: bool = false;
  pattern: bool = false;
  acks: i32 = -1;
  sessionIdOffset: i32 = -1;
  sessionEpochOffset: i32 = -1;
  errorCode: i32 = 0;
  errorCodeSeen: bool = false;
  recordBytes: i64 = 0;
  // Metadata: the topics array's count prefix (offset, size) and where the array ends; -1: absent.
  metadataCountOffset: i32 = -1;
  metadataCountBytes: i32 = 0;
  metadataArrayEnd: i32 = -1;
  // ApiVersions responses: the api_keys array's count prefix and end, and per entry the offsets of
  // api_key and max_version (min_version sits just before max_version).
  apiVersionsCountOffset: i32 = -1;
  apiVersionsCountBytes: i32 = 0;
  apiVersionsArrayEnd: i32 = -1;
  apiKeyOffsets: Array<i32> = new Array<i32>();
  apiMaxOffsets: Array<i32> = new Array<i32>();
  apiEntryStarts: Array<i32> = new Array<i32>();
  apiEntryEnds: Array<i32> = new Array<i32>();
  inTopicNames: bool = false;

  private current: i32 = -1; // the topic entry being read, or -1
  private enclosing: Array<i32> = new Array<i32>();
  private resourceType: i32 = -1;

  reset(): void {
    this.nameOffset.length = 0;
    this.nameLength.length = 0;
    this.idOffset.length = 0;
    this.entryStart.length = 0;
    this.entryEnd.length = 0;
    this.partitionStart.length = 0;
    this.partitionCount.length = 0;
    this.partitions.length = 0;
    this.topicCount = 0;
    this.allTopics = false;
    this.pattern = false;
    this.acks = -1;
    this.sessionIdOffset = -1;
    this.sessionEpochOffset = -1;
    this.errorCode = 0;
    this.errorCodeSeen = false;
    this.recordBytes = 0;
    this.metadataCountOffset = -1;
    this.metadataCountBytes = 0;
    this.metadataArrayEnd = -1;
    this.apiVersionsCountOffset = -1;
    this.apiVersionsCountBytes = 0;
    this.apiVersionsArrayEnd = -1;
    this.apiKeyOffsets.length = 0;
    this.apiMaxOffsets.length = 0;
    this.apiEntryStarts.length = 0;
    this.apiEntryEnds.length = 0;
    this.current = -1;
    this.enclosing.length = 0;
    this.resourceType = -1;
  }

  fixedField(role: i32, view: ByteView, at: i32, size: i32): void {
    if (role == Role.TopicId && size == 16) {
      if (this.current >= 0 && this.idOffset[this.current] < 0) this.idOffset[this.current] = at;
      else this.idOffset[this.addEntry(-1)] = at;
    } else if (role == Role.PartitionIndex && size == 4) {
      this.partition(i32be(view, at));
    } else if (role == Role.ErrorCode && size == 2) {
      if (!this.errorCodeSeen && this.current < 0) {
        this.errorCode = i16be(view, at);
        this.errorCodeSeen = true;
      }
    } else if (role == Role.Acks && size == 2) {
      this.acks = i16be(view, at);
    } else if (role == Role.SessionId && size == 4) {
      this.sessionIdOffset = at;
    } else if (role == Role.SessionEpoch && size == 4) {
      this.sessionEpochOffset = at;
    } else if (role == Role.ResourceType && size == 1) {
      this.resourceType = view.byteAt(at);
    } else if (role == Role.ApiVersionKey && size == 2) {
      this.apiKeyOffsets.push(at);
    } else if (role == Role.ApiVersionMax && size == 2) {
      this.apiMaxOffsets.push(at);
    }
  }

  stringField(role: i32, view: ByteView, at: i32, length: i32): void {
    if (role == Role.TopicName) {
      const entry = this.current >= 0 && this.nameOffset[this.current] < 0 && !this.inTopicNames ? this.current : this.addEntry(-1);
      this.nameOffset[entry] = at;
      this.nameLength[entry] = length;
    } else if (role == Role.ResourceName) {
      if (this.resourceType != TOPIC_RESOURCE_TYPE) return;
      const entry = this.addEntry(-1);
      this.nameOffset[entry] = at;
      this.nameLength[entry] = length;
    } else if (role == Role.TopicRegex) {
      this.pattern = true;
    }
  }

  nullString(role: i32): void {
    // A null name (Metadata v10+ by topic id) or null pattern names nothing.
  }

  nullArray(role: i32, countOffset: i32, countBytes: i32): void {
    if (role == Role.AllTopicsWhenNull || role == Role.MetadataTopics) this.allTopics = true;
    if (role == Role.MetadataTopics) {
      this.metadataCountOffset = countOffset;
      this.metadataCountBytes = countBytes;
      this.metadataArrayEnd = countOffset + countBytes;
    }
  }

  arrayStart(role: i32, countOffset: i32, countBytes: i32, count: i32): void {
    if (role == Role.MetadataTopics) {
      this.metadataCountOffset = countOffset;
      this.metadataCountBytes = countBytes;
    } else if (role == Role.ApiVersionsArray) {
      this.apiVersionsCountOffset = countOffset;
      this.apiVersionsCountBytes = countBytes;
    }
  }

  arrayEnd(role: i32, end: i32): void {
    if (role == Role.MetadataTopics) this.metadataArrayEnd = end;
    else if (role == Role.ApiVersionsArray) this.apiVersionsArrayEnd = end;
  }

  // Topic entries may nest (a topic array inside another's element): the outer one resumes.
  beginTopicEntry(start: i32): void {
    this.enclosing.push(this.current);
    this.current = this.addEntry(start);
  }

  endTopicEntry(end: i32): void {
    if (this.current >= 0) this.entryEnd[this.current] = end;
    this.current = this.enclosing.length > 0 ? this.enclosing.pop() : -1;
  }

  beginApiVersion(start: i32): void {
    this.apiEntryStarts.push(start);
  }

  endApiVersion(end: i32): void {
    this.apiEntryEnds.push(end);
  }

  // A partition of the topic entry being read (ignored outside one).
  partition(index: i32): void {
    const entry = this.current;
    if (entry < 0) return;
    this.partitions.push(index);
    this.partitionCount[entry] = this.partitionCount[entry] + 1;
  }

  // Adds an entry that is not an array element: a name at [nameOffset, +nameLength) and/or a
  // 16-byte id at idOffset (-1: none), for building entries from names the parser kept.
  addStandalone(nameOffset: i32, nameLength: i32, idOffset: i32): void {
    const entry = this.addEntry(-1);
    this.nameOffset[entry] = nameOffset;
    this.nameLength[entry] = nameLength;
    this.idOffset[entry] = idOffset;
  }

  // True when entry `entry` names its topic by name.
  hasName(entry: i32): bool {
    return this.nameOffset[entry] >= 0;
  }

  hasId(entry: i32): bool {
    return this.idOffset[entry] >= 0;
  }

  private addEntry(start: i32): i32 {
    const entry = this.topicCount;
    this.nameOffset.push(-1);
    this.nameLength.push(-1);
    this.idOffset.push(-1);
    this.entryStart.push(start);
    this.entryEnd.push(start);
    this.partitionStart.push(this.partitions.length);
    this.partitionCount.push(0);
    this.topicCount = entry + 1;
    return entry;
  }
}
