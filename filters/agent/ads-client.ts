// The agent's xDS client: one state-of-the-world ADS stream over the bootstrap's weir-xds cluster,
// subscribed (wildcard) to weir.NetworkPolicy and weir.IdentityMap under Envoy's own node id. It
// ACKs what validates and publishes it, NACKs what does not (with the reason, keeping the previous
// state), and reconnects with exponential backoff driven by the root context's tick. Decoding is in
// discovery.ts and weir-resources.ts, publishing in publisher.ts.
import { LogLevel } from '../sdk/abi/imports';
import { logText, nowMilliseconds } from '../sdk/abi/host';
import { ByteBuffer } from '../sdk/bytes/byte-buffer';
import { AgentNode, DiscoveryRequest, DiscoveryResponse, decodeDiscoveryResponse, encodeDiscoveryRequest } from './discovery';
import { cancelGrpcStream, grpcCloseMessage, openGrpcStream, readGrpcMessage, sendGrpcMessage } from './grpc-calls';
import { PolicyPublisher } from './publisher';
import { IDENTITY_MAP_TYPE_URL, NETWORK_POLICY_TYPE_URL, decodeIdentityMap, decodePolicies } from './weir-resources';

const ADS_SERVICE = 'envoy.service.discovery.v3.AggregatedDiscoveryService';
const ADS_METHOD = 'StreamAggregatedResources';
export const INITIAL_BACKOFF_MS: u64 = 250;
export const MAX_BACKOFF_MS: u64 = 5000;

// What the agent last accepted of one type; echoed as version_info so a NACK keeps it and a
// reconnect does not get it resent.
class TypeState {
  acceptedVersion: string = '';
  constructor(public typeUrl: string) {}
}

export class AdsClient {
  private token: u32 = 0; // 0: no stream open
  private retryAtMs: u64 = 0;
  private backoffMs: u64 = INITIAL_BACKOFF_MS;
  private types: Array<TypeState> = [new TypeState(NETWORK_POLICY_TYPE_URL), new TypeState(IDENTITY_MAP_TYPE_URL)];
  private received: ByteBuffer = new ByteBuffer();
  private publisher: PolicyPublisher = new PolicyPublisher();

  constructor(
    private node: AgentNode,
    private cluster: string,
  ) {}

  // Called on every tick: opens the stream when none is open and the backoff has passed.
  onTick(): void {
    this.publisher.onTick();
    if (this.token != 0 || nowMilliseconds() < this.retryAtMs) return;
    this.connect();
  }

  onMessage(token: u32, size: u32): void {
    if (token != this.token) return;
    this.received.clear();
    if (!readGrpcMessage(size, this.received)) {
      logText(LogLevel.Error, 'weir agent: could not read a DiscoveryResponse of ' + size.toString() + ' bytes from Envoy');
      return;
    }
    const response = decodeDiscoveryResponse(this.received.readPtr, <i32>this.received.length);
    if (response === null) {
      logText(LogLevel.Error, 'weir agent: malformed DiscoveryResponse from ' + this.cluster + ' (' + size.toString() + ' bytes); ignored');
      return;
    }
    this.backoffMs = INITIAL_BACKOFF_MS;
    this.apply(response);
  }

  onClose(token: u32, status: u32): void {
    if (token != this.token) return;
    const message = grpcCloseMessage();
    this.token = 0;
    this.retryAtMs = nowMilliseconds() + this.backoffMs;
    logText(LogLevel.Warn, 'weir agent: ADS stream to ' + this.cluster + ' closed (grpc-status ' + status.toString() + (message.length > 0 ? ': ' + message : '') + '); reconnecting in ' + this.backoffMs.toString() + ' ms');
    this.backoffMs = this.backoffMs * 2 > MAX_BACKOFF_MS ? MAX_BACKOFF_MS : this.backoffMs * 2;
  }

  stop(): void {
    if (this.token != 0) cancelGrpcStream(this.token);
    this.token = 0;
  }

  private connect(): void {
    const token = openGrpcStream(this.cluster, ADS_SERVICE, ADS_METHOD);
    if (token == 0) {
      this.retryAtMs = nowMilliseconds() + this.backoffMs;
      logText(LogLevel.Error, 'weir agent: Envoy refused a gRPC stream to cluster ' + this.cluster + '; is it in the bootstrap? retrying in ' + this.backoffMs.toString() + ' ms');
      this.backoffMs = this.backoffMs * 2 > MAX_BACKOFF_MS ? MAX_BACKOFF_MS : this.backoffMs * 2;
      return;
    }
    this.token = token;
    logText(LogLevel.Info, 'weir agent: ADS stream to ' + this.cluster + ' opened as node ' + this.node.id);
    for (let i = 0; i < this.types.length; i++) {
      const request = new DiscoveryRequest();
      request.typeUrl = this.types[i].typeUrl;
      request.versionInfo = this.types[i].acceptedVersion;
      this.send(request);
    }
  }

  private apply(response: DiscoveryResponse): void {
    const state = this.stateOf(response.typeUrl);
    if (state === null) {
      logText(LogLevel.Warn, 'weir agent: response of unrequested type ' + response.typeUrl + ' ignored');
      return;
    }
    const problem = this.validateAndPublish(response);
    const reply = new DiscoveryRequest();
    reply.typeUrl = response.typeUrl;
    reply.responseNonce = response.nonce;
    if (problem.length == 0) {
      state.acceptedVersion = response.versionInfo;
      logText(LogLevel.Info, 'weir agent: ACK ' + response.typeUrl + ' version ' + response.versionInfo + ' (' + response.resources.length.toString() + ' resources, generation ' + this.publisher.currentGeneration.toString() + ')');
    } else {
      reply.errorMessage = problem;
      logText(LogLevel.Warn, 'weir agent: NACK ' + response.typeUrl + ' version ' + response.versionInfo + ': ' + problem + '; keeping version ' + state.acceptedVersion);
    }
    reply.versionInfo = state.acceptedVersion;
    this.send(reply);
  }

  // Publishes the response when every resource validates; otherwise returns why not.
  private validateAndPublish(response: DiscoveryResponse): string {
    if (response.typeUrl == NETWORK_POLICY_TYPE_URL) {
      const update = decodePolicies(response);
      if (update.problem.length == 0) this.publisher.publishPolicies(update);
      return update.problem;
    }
    const identities = decodeIdentityMap(response);
    if (identities.problem.length == 0) this.publisher.publishIdentities(identities);
    return identities.problem;
  }

  private send(request: DiscoveryRequest): void {
    if (this.token == 0) return;
    const message = encodeDiscoveryRequest(this.node, request);
    const sent = sendGrpcMessage(this.token, message);
    message.release();
    if (sent) return;
    logText(LogLevel.Warn, 'weir agent: could not send a DiscoveryRequest for ' + request.typeUrl + '; reopening the stream in ' + this.backoffMs.toString() + ' ms');
    cancelGrpcStream(this.token);
    this.token = 0;
    this.retryAtMs = nowMilliseconds() + this.backoffMs;
  }

  private stateOf(typeUrl: string): TypeState | null {
    for (let i = 0; i < this.types.length; i++) if (this.types[i].typeUrl == typeUrl) return this.types[i];
    return null;
  }
}
