// The names policies give Kafka API keys (`apiKey` rules, the access log's `apiKey` field): the
// lower-case API name without separators, as Cilium's kafka rules spell them ("produce",
// "offsetcommit", "consumergroupheartbeat"), except key 2, which Cilium calls "offsets". Kept as
// bytes, one buffer per key, so the request record can point at them without allocating.
import { API_NAMES } from './protocol-table';

const LIST_OFFSETS_KEY: i32 = 2;

export class ApiNames {
  private names: Array<ArrayBuffer> = new Array<ArrayBuffer>();
  private texts: Array<string> = new Array<string>();
  private versionTexts: Array<ArrayBuffer> = new Array<ArrayBuffer>();

  constructor() {
    for (let key = 0; key < API_NAMES.length; key++) {
      const text = key == LIST_OFFSETS_KEY ? 'offsets' : API_NAMES[key].toLowerCase();
      this.texts.push(text);
      this.names.push(String.UTF8.encode(text));
    }
  }

  // The policy name of `apiKey` as bytes; the decimal key for a key the table does not name.
  bytesOf(apiKey: i32): ArrayBuffer {
    if (apiKey >= 0 && apiKey < this.names.length && this.texts[apiKey].length > 0) return this.names[apiKey];
    return String.UTF8.encode(apiKey.toString());
  }

  textOf(apiKey: i32): string {
    if (apiKey >= 0 && apiKey < this.texts.length && this.texts[apiKey].length > 0) return this.texts[apiKey];
    return apiKey.toString();
  }

  // `version` in decimal, as `apiVersion` rules compare it.
  versionBytes(version: i32): ArrayBuffer {
    while (this.versionTexts.length <= version && version < 256) this.versionTexts.push(String.UTF8.encode(this.versionTexts.length.toString()));
    if (version >= 0 && version < this.versionTexts.length) return this.versionTexts[version];
    return String.UTF8.encode(version.toString());
  }
}
