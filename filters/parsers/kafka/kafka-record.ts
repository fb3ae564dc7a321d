// Fills the connection's request record with what Kafka rules match: `apiKey` (the API's policy
// name), `apiVersion` (decimal), `clientID` and `topic`. Values that are not wire bytes (names,
// version texts, a client id or topic name kept from an earlier request) are pointed at through
// views this object owns, so filling allocates nothing.
import { ByteView, RequestRecord } from '../../sdk/index';
import { ApiNames } from './api-names';

export const enum KafkaKey {
  ApiKey = 0,
  ApiVersion = 1,
  ClientId = 2,
  Topic = 3,
}

export const KAFKA_RULE_KEYS: Array<string> = ['apiKey', 'apiVersion', 'clientID', 'topic'];

export class KafkaRecord {
  private apiKey: ByteView = new ByteView();
  private version: ByteView = new ByteView();
  private clientId: ByteView = new ByteView();
  private topic: ByteView = new ByteView();

  constructor(private names: ApiNames) {}

  // Clears `record` and sets apiKey and apiVersion; the topic stays absent.
  start(record: RequestRecord, apiKey: i32, version: i32): void {
    record.clear();
    setBuffer(record, KafkaKey.ApiKey, this.apiKey, this.names.bytesOf(apiKey));
    setBuffer(record, KafkaKey.ApiVersion, this.version, this.names.versionBytes(version));
  }

  clientIdFromBuffer(record: RequestRecord, clientId: ArrayBuffer | null): void {
    if (clientId !== null) setBuffer(record, KafkaKey.ClientId, this.clientId, clientId);
  }

  topicFromBuffer(record: RequestRecord, name: ArrayBuffer): void {
    setBuffer(record, KafkaKey.Topic, this.topic, name);
  }
}

function setBuffer(record: RequestRecord, key: i32, view: ByteView, bytes: ArrayBuffer): void {
  view.setWindow(changetype<usize>(bytes), bytes.byteLength);
  record.set(key, view, 0, bytes.byteLength);
}
