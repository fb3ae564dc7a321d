// Serves one incremental (delta) xDS stream: subscribe/unsubscribe per type (honoured even when the
// request's nonce is stale), `initial_resource_versions` on reconnect so unchanged resources are not
// pushed again and deleted ones are removed, per-resource versions (content hashes), removals in
// `removed_resources`, one response in flight per type (latest wins), NACKed content never resent
// unchanged. Knows nothing of gRPC (see ads.ts) or of how config is computed.
import type { ConfigWatch, DeltaWatchRequest, DeltaWatchResponse, NodeIdentity } from './config-watcher.ts';
import {
  StreamStatus,
  type DeltaDiscoveryRequest,
  type DeltaDiscoveryResponse,
  type XdsStreamTransport,
} from './discovery-messages.ts';
import { StreamAdmission } from './stream-admission.ts';
import type { StreamContext } from './stream-context.ts';
import { classifyAcknowledgement, NonceSequence, TypeSubscription } from './subscription.ts';

/** Also the watch's view of what the proxy holds (knownVersions). */
interface DeltaTypeState {
  subscription: TypeSubscription;
  /** name -> version the proxy holds (or was sent and rejected: never resent unchanged). */
  knownVersions: Map<string, string>;
  /**
   * knownVersions was handed to the status registry as what the proxy will hold once it ACKs; it
   * is copied before the next change instead of being copied on every send (one map per stream
   * and type, not two).
   */
  knownVersionsShared: boolean;
  latestNonce: string | undefined;
  latestSystemVersion: string | undefined;
  awaitingReply: boolean;
  /** The type's watch, opened with the first request and re-armed after every reply; its request is updated in place. */
  watch: { handle: ConfigWatch; request: DeltaWatchRequest } | undefined;
}

export function serveDeltaStream(
  transport: XdsStreamTransport<DeltaDiscoveryRequest, DeltaDiscoveryResponse>,
  context: StreamContext,
): void {
  const stream = new DeltaStream(transport, context);
  transport.onRequest((request) => stream.receive(request));
  transport.onClose(() => stream.close());
}

class DeltaStream {
  readonly #types = new Map<string, DeltaTypeState>();
  readonly #nonces = new NonceSequence();
  readonly #admission: StreamAdmission;

  constructor(
    private readonly transport: XdsStreamTransport<DeltaDiscoveryRequest, DeltaDiscoveryResponse>,
    private readonly context: StreamContext,
  ) {
    this.#admission = new StreamAdmission(transport, context, 'delta');
  }

  receive(request: DeltaDiscoveryRequest): void {
    if (this.#admission.closed) return;
    const node = this.#admission.nodeFor(request, 'DeltaDiscoveryRequest');
    if (!node) return;
    if (request.type_url === '') {
      this.#refuse(StreamStatus.InvalidArgument, 'DeltaDiscoveryRequest.type_url is empty; every request must name its resource type');
      return;
    }
    const isFirstOfType = !this.#types.has(request.type_url);
    const state = this.#stateFor(request.type_url);
    if (isFirstOfType) this.#adoptInitialVersions(state, request);
    this.#applySubscriptionChanges(state, request);
    this.#recordAcknowledgement(node, state, request);
    if (!state.awaitingReply) this.#watch(node, request.type_url, state);
  }

  close(): void {
    if (!this.#admission.close()) return;
    for (const state of this.#types.values()) state.watch?.handle.cancel();
  }

  #adoptInitialVersions(state: DeltaTypeState, request: DeltaDiscoveryRequest): void {
    for (const [name, version] of Object.entries(request.initial_resource_versions)) {
      mutableKnownVersions(state).set(name, version);
    }
  }

  #applySubscriptionChanges(state: DeltaTypeState, request: DeltaDiscoveryRequest): void {
    const initial = request.initial_resource_versions;
    state.subscription.subscribe(request.resource_names_subscribe);
    // A name subscribed again must be sent again, even if the server thinks the proxy has it.
    for (const name of request.resource_names_subscribe) {
      if (!(name in initial) && state.knownVersions.has(name)) mutableKnownVersions(state).delete(name);
    }
    for (const name of state.subscription.unsubscribe(request.resource_names_unsubscribe)) {
      if (!state.subscription.covers(name) && state.knownVersions.has(name)) mutableKnownVersions(state).delete(name);
    }
  }

  #recordAcknowledgement(node: NodeIdentity, state: DeltaTypeState, request: DeltaDiscoveryRequest): void {
    const acknowledgement = classifyAcknowledgement(state.latestNonce, request.response_nonce, request.error_detail);
    const version = state.latestSystemVersion ?? '';
    const logger = this.context.logger;
    if (acknowledgement.kind === 'ack') {
      state.awaitingReply = false;
      this.context.status.recordAck(node.id, request.type_url, version);
      // Debug, not info: at fleet scale one line per proxy per push costs more than the push itself.
      if (logger.isLevelEnabled('debug')) logger.debug(acknowledgementLog(node, state, request), 'xDS ACK');
    } else if (acknowledgement.kind === 'nack') {
      state.awaitingReply = false;
      this.context.status.recordNack(node.id, request.type_url, version, acknowledgement.message);
      logger.warn(
        { ...acknowledgementLog(node, state, request), error: acknowledgement.message },
        'xDS NACK: proxy rejected the resources and keeps its previous config; not resending them unchanged',
      );
    } else if (acknowledgement.kind === 'stale' && logger.isLevelEnabled('debug')) {
      logger.debug({ ...acknowledgementLog(node, state, request), latestNonce: state.latestNonce }, 'delta request with a stale nonce: subscription changes applied, no ACK recorded');
    }
  }

  #watch(node: NodeIdentity, typeUrl: string, state: DeltaTypeState): void {
    if (!state.watch) {
      const request: DeltaWatchRequest = { node, typeUrl, wildcard: state.subscription.wildcard, resourceNames: state.subscription.names };
      const handle = this.context.watcher.openDeltaWatch(request, state, (response) => this.#send(node, state, response));
      state.watch = { handle, request };
    } else {
      state.watch.request.wildcard = state.subscription.wildcard;
      state.watch.request.resourceNames = state.subscription.names;
    }
    state.watch.handle.arm();
  }

  #send(node: NodeIdentity, state: DeltaTypeState, response: DeltaWatchResponse): void {
    if (this.#admission.closed) return;
    const nonce = this.#nonces.next();
    this.transport.send({
      system_version_info: response.systemVersion,
      resources: response.changed.map((resource) => ({
        name: resource.name,
        version: resource.hash,
        resource: { type_url: resource.typeUrl, value: resource.value },
      })),
      type_url: response.typeUrl,
      // The answer's own list, made for this response: no copy.
      removed_resources: response.removed,
      nonce,
      control_plane: this.context.controlPlane,
    });
    const knownVersions = mutableKnownVersions(state);
    for (const resource of response.changed) knownVersions.set(resource.name, resource.hash);
    for (const name of response.removed) knownVersions.delete(name);
    state.latestNonce = nonce;
    state.latestSystemVersion = response.systemVersion;
    state.awaitingReply = true;
    this.context.status.recordSent(node.id, response.typeUrl, response.systemVersion, knownVersions, 'delta');
    state.knownVersionsShared = true;
    if (this.context.logger.isLevelEnabled('debug')) {
      this.context.logger.debug(
        { nodeId: node.id, typeUrl: response.typeUrl, version: response.systemVersion, nonce, changed: response.changed.length, removed: response.removed.length },
        'delta xDS response sent',
      );
    }
  }

  #stateFor(typeUrl: string): DeltaTypeState {
    let state = this.#types.get(typeUrl);
    if (!state) {
      state = {
        subscription: new TypeSubscription(),
        knownVersions: new Map(),
        knownVersionsShared: false,
        latestNonce: undefined,
        latestSystemVersion: undefined,
        awaitingReply: false,
        watch: undefined,
      };
      this.#types.set(typeUrl, state);
    }
    return state;
  }

  #refuse(status: StreamStatus, message: string): void {
    this.transport.fail(status, message);
    this.close();
  }
}

/** The state's known versions, copied first if the status registry holds the current map. */
function mutableKnownVersions(state: DeltaTypeState): Map<string, string> {
  if (state.knownVersionsShared) {
    state.knownVersions = new Map(state.knownVersions);
    state.knownVersionsShared = false;
  }
  return state.knownVersions;
}

function acknowledgementLog(node: NodeIdentity, state: DeltaTypeState, request: DeltaDiscoveryRequest): object {
  return { nodeId: node.id, typeUrl: request.type_url, nonce: request.response_nonce, version: state.latestSystemVersion };
}
