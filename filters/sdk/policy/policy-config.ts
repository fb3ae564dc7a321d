// The plugin-configuration fields that make a parser enforce the policy the Weir agent publishes
// instead of static `rules`: {"policy": "agent", "endpoint": "<name>", "direction": "ingress" |
// "egress", "port": <endpoint port> | "destination"}, and optionally "spiffeTrustDomains":
// ["cluster.local", ...] to take an mTLS peer's identity from its SPIFFE ID (docs/policy-wire.md,
// docs/istio.md). Reads and checks them; plugin-config.ts
// hands these keys over and stores the resulting binding in PluginSettings.
import { JsonKind, JsonReader } from '../bytes/json-reader';
import { isTrustDomainName } from './spiffe-id';

// `"port": "destination"`: the port the connection was addressed to (catch-all filter chains of a
// sidecar's virtual listeners, where one filter guards every port no rule names).
export const PORT_OF_DESTINATION: i32 = -1;

// Which endpoint's policy a plugin enforces, from which side, on which port.
export class AgentPolicyBinding {
  constructor(
    public endpoint: string,
    public ingress: bool, // ingress: the remote is the connection's source; egress: its destination
    public port: i32, // PORT_OF_DESTINATION: the connection's destination port
    // Ingress only: when not empty, a peer that presented a certificate (Envoy terminated mTLS and
    // verified it) is known by its SPIFFE ID, which must belong to one of these trust domains.
    public spiffeTrustDomains: Array<string> = new Array<string>(),
  ) {}
}

export class AgentPolicyFields {
  private policy: string = '';
  private endpoint: string = '';
  private direction: string = 'ingress';
  private directionGiven: bool = false;
  private port: i32 = 0;
  private spiffeTrustDomains: Array<string> = new Array<string>();

  // The configured "endpoint" ('' when absent).
  get endpointName(): string {
    return this.endpoint;
  }

  // The configured "direction" ('' when absent).
  get directionName(): string {
    return this.directionGiven ? this.direction : '';
  }

  accepts(key: string): bool {
    return key == 'policy' || key == 'endpoint' || key == 'direction' || key == 'port' || key == 'spiffeTrustDomains';
  }

  read(reader: JsonReader, key: string): void {
    if (key == 'policy') this.policy = reader.readString();
    else if (key == 'endpoint') this.endpoint = reader.readString();
    else if (key == 'direction') {
      this.direction = reader.readString();
      this.directionGiven = true;
    }
    else if (key == 'port') {
      if (reader.peekKind() == JsonKind.String) {
        const text = reader.readString();
        if (text == 'destination') this.port = PORT_OF_DESTINATION;
        else reader.fail('port is "' + text + '"; expected a port number or "destination"');
      } else this.port = <i32>reader.readInteger('port', 1, 65535, 0);
    }
    else if (key == 'spiffeTrustDomains') this.readTrustDomains(reader);
  }

  private readTrustDomains(reader: JsonReader): void {
    if (!reader.beginArray()) return;
    while (reader.nextElement()) {
      const domain = reader.readString();
      if (reader.failed) return;
      if (!isTrustDomainName(domain)) {
        reader.fail('spiffeTrustDomains: "' + domain + '" is not a SPIFFE trust domain name (lowercase letters, digits, ".", "-", "_")');
        return;
      }
      this.spiffeTrustDomains.push(domain);
    }
  }

  // The binding when "policy" is "agent", null when the plugin uses static rules; a problem is
  // left in the reader when the fields are inconsistent.
  binding(reader: JsonReader): AgentPolicyBinding | null {
    if (reader.failed) return null;
    if (this.policy.length == 0) return null;
    if (this.policy != 'agent') {
      reader.problem = 'policy is "' + this.policy + '"; the only policy source is "agent" (omit it to use "rules")';
      return null;
    }
    if (this.endpoint.length == 0) {
      reader.problem = 'policy "agent" needs "endpoint": the name of the endpoint whose policy this listener enforces';
      return null;
    }
    if (this.direction != 'ingress' && this.direction != 'egress') {
      reader.problem = 'direction is "' + this.direction + '"; expected "ingress" or "egress"';
      return null;
    }
    if (this.port == 0) {
      reader.problem = 'policy "agent" needs "port": the endpoint port this listener guards (1-65535), or "destination"';
      return null;
    }
    if (this.spiffeTrustDomains.length > 0 && this.direction != 'ingress') {
      reader.problem = 'spiffeTrustDomains applies to direction "ingress" only (the peer is the connection\'s client)';
      return null;
    }
    return new AgentPolicyBinding(this.endpoint, this.direction == 'ingress', this.port, this.spiffeTrustDomains);
  }
}
