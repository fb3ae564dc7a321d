// The requests a Kafka connection has forwarded and not yet seen answered, in order: a broker
// answers the requests of one connection in the order it received them, each response carrying
// the request's correlation id, and a response can only be read knowing its request's API key and
// version. Each entry also says what the parser must do with the response (pass it, rewrite it).
// Entries are objects reused from a ring, so forwarding a request allocates nothing.

export const enum ResponseAction {
  Pass = 0, // forward as the broker sent it
  Probe = 1, // the answer to the SDK's probe: the SDK replaces it with the deny response
  ClampApiVersions = 2, // ApiVersions: cap each API's versions at what the filter reads
  LearnTopicIds = 3, // Metadata: learn topic ids, forward unchanged
  FilterTopics = 4, // Metadata for every topic: drop the topics the policy denies
  AddDeniedTopics = 5, // Metadata whose denied topics were taken out: add them back with an error
}

export class InFlightRequest {
  correlationId: i32 = 0;
  apiKey: i32 = 0;
  version: i32 = 0;
  action: ResponseAction = ResponseAction.Pass;
  // Metadata: the request's client id (for FilterTopics decisions) and the topics to add back
  // (AddDeniedTopics): names or 16-byte ids with their error codes.
  clientId: ArrayBuffer | null = null;
  deniedNames: Array<ArrayBuffer> = new Array<ArrayBuffer>();
  deniedIsId: Array<bool> = new Array<bool>();
  deniedCodes: Array<i32> = new Array<i32>();

  clearTopics(): void {
    this.deniedNames.length = 0;
    this.deniedIsId.length = 0;
    this.deniedCodes.length = 0;
    this.clientId = null;
  }
}

// As many requests as the SDK's reply queue has slots.
export const MAX_IN_FLIGHT: i32 = 4096;

export class InFlightQueue {
  private ring: Array<InFlightRequest> = new Array<InFlightRequest>();
  private head: i32 = 0;
  private count: i32 = 0;

  get size(): i32 {
    return this.count;
  }

  get isFull(): bool {
    return this.count >= MAX_IN_FLIGHT;
  }

  // A slot at the tail, to fill; the caller checked isFull.
  push(): InFlightRequest {
    if (this.count == this.ring.length) this.grow();
    const slot = this.ring[(this.head + this.count) % this.ring.length];
    slot.clearTopics();
    slot.action = ResponseAction.Pass;
    this.count++;
    return slot;
  }

  // The oldest request, or null.
  peek(): InFlightRequest | null {
    return this.count == 0 ? null : this.ring[this.head];
  }

  pop(): void {
    if (this.count == 0) return;
    this.head = (this.head + 1) % this.ring.length;
    this.count--;
  }

  private grow(): void {
    const capacity = this.ring.length == 0 ? 8 : this.ring.length * 2;
    const grown = new Array<InFlightRequest>(capacity);
    for (let i = 0; i < this.count; i++) grown[i] = this.ring[(this.head + i) % this.ring.length];
    for (let i = this.count; i < capacity; i++) grown[i] = new InFlightRequest();
    this.ring = grown;
    this.head = 0;
  }
}
