// Serves one state-of-the-world xDS stream (ADS or a per-type service): reads the node from the
// first request, tells ACK, NACK and stale requests apart per type, keeps at most one response in
// flight per type (a watch answers once; the next opens on the proxy's reply), never resends a
// NACKed version unchanged, and records everything in the proxy status registry.
// Knows nothing of gRPC (see ads.ts) or of how config is computed (see config-watcher.ts).
import type { ConfigWatch, NameLookup, NodeIdentity, SotwWatchRequest, SotwWatchResponse } from './config-watcher.ts';
import {
  StreamStatus,
  type DiscoveryRequest,
  type DiscoveryResponse,
  type XdsStreamTransport,
} from './discovery-messages.ts';
import { StreamAdmission } from './stream-admission.ts';
import type { StreamContext } from './stream-context.ts';
import { classifyAcknowledgement, NonceSequence, TypeSubscription } from './subscription.ts';

/** Also the watch's view of what was delivered (deliveredVersion, deliveredNames, deliveredHashes). */
interface SotwTypeState {
  subscription: TypeSubscription;
  latestNonce: string | undefined;
  deliveredVersion: string | undefined;
  deliveredNames: NameLookup;
  deliveredHashes: ReadonlyMap<string, string>;
  /** The type's watch, opened with the first request and re-armed on every later one; its request is updated in place. */
  watch: { handle: ConfigWatch; request: SotwWatchRequest } | undefined;
}

export function serveSotwStream(
  transport: XdsStreamTransport<DiscoveryRequest, DiscoveryResponse>,
  context: StreamContext,
): void {
  const stream = new SotwStream(transport, context);
  transport.onRequest((request) => stream.receive(request));
  transport.onClose(() => stream.close());
}

class SotwStream {
  readonly #types = new Map<string, SotwTypeState>();
  readonly #nonces = new NonceSequence();
  readonly #admission: StreamAdmission;

  constructor(
    private readonly transport: XdsStreamTransport<DiscoveryRequest, DiscoveryResponse>,
    private readonly context: StreamContext,
  ) {
    this.#admission = new StreamAdmission(transport, context, 'sotw');
  }

  receive(request: DiscoveryRequest): void {
    if (this.#admission.closed) return;
    const node = this.#admission.nodeFor(request, 'DiscoveryRequest');
    if (!node) return;
    if (request.type_url === '') {
      this.#refuse(StreamStatus.InvalidArgument, 'DiscoveryRequest.type_url is empty; every request must name its resource type');
      return;
    }
    const state = this.#stateFor(request.type_url);
    const acknowledgement = classifyAcknowledgement(state.latestNonce, request.response_nonce, request.error_detail);
    const logger = this.context.logger;
    switch (acknowledgement.kind) {
      case 'stale':
        if (logger.isLevelEnabled('debug')) logger.debug({ ...acknowledgementLog(node, state, request), latestNonce: state.latestNonce }, 'xDS request with a stale nonce ignored');
        return;
      case 'ack':
        this.context.status.recordAck(node.id, request.type_url, state.deliveredVersion ?? request.version_info);
        // Debug, not info: at fleet scale one line per proxy per push costs more than the push itself.
        if (logger.isLevelEnabled('debug')) logger.debug(acknowledgementLog(node, state, request), 'xDS ACK');
        break;
      case 'nack':
        this.context.status.recordNack(node.id, request.type_url, state.deliveredVersion ?? '', acknowledgement.message);
        logger.warn(
          { ...acknowledgementLog(node, state, request), keptVersion: request.version_info, error: acknowledgement.message },
          'xDS NACK: proxy rejected the version and keeps its previous config; not resending it unchanged',
        );
        break;
      case 'request':
        this.#adoptReportedVersion(node, state, request);
        break;
    }
    state.subscription.replaceNames(request.resource_names);
    this.#watch(node, request.type_url, state);
  }

  close(): void {
    if (!this.#admission.close()) return;
    for (const state of this.#types.values()) state.watch?.handle.cancel();
  }

  /** A reconnecting proxy reports the version it runs; versions are content hashes, so an equal one needs no resend. */
  #adoptReportedVersion(node: NodeIdentity, state: SotwTypeState, request: DiscoveryRequest): void {
    if (state.latestNonce !== undefined || request.version_info === '') return;
    state.deliveredVersion = request.version_info;
    state.deliveredNames = new Set(request.resource_names);
    this.context.status.recordAck(node.id, request.type_url, request.version_info);
  }

  #watch(node: NodeIdentity, typeUrl: string, state: SotwTypeState): void {
    if (!state.watch) {
      const request: SotwWatchRequest = { node, typeUrl, wildcard: state.subscription.wildcard, resourceNames: state.subscription.names };
      const handle = this.context.watcher.openWatch(request, state, (response) => this.#send(node, state, response));
      state.watch = { handle, request };
    } else {
      state.watch.request.wildcard = state.subscription.wildcard;
      state.watch.request.resourceNames = state.subscription.names;
    }
    state.watch.handle.arm();
  }

  #send(node: NodeIdentity, state: SotwTypeState, response: SotwWatchResponse): void {
    if (this.#admission.closed) return;
    const nonce = this.#nonces.next();
    this.transport.send({
      version_info: response.version,
      resources: response.resources.map((resource) => ({ type_url: resource.typeUrl, value: resource.value })),
      type_url: response.typeUrl,
      nonce,
      control_plane: this.context.controlPlane,
    });
    state.latestNonce = nonce;
    state.deliveredVersion = response.version;
    // Shared, never copied: the response's hashes belong to the snapshot (wildcard) or to this
    // response, and SotW subscriptions replace their name set rather than change it.
    state.deliveredHashes = response.hashes;
    state.deliveredNames = state.subscription.wildcard ? response.hashes : state.subscription.names;
    this.context.status.recordSent(node.id, response.typeUrl, response.version, state.deliveredHashes, 'sotw');
    if (this.context.logger.isLevelEnabled('debug')) {
      this.context.logger.debug(
        { nodeId: node.id, typeUrl: response.typeUrl, version: response.version, nonce, resources: response.resources.length },
        'xDS response sent',
      );
    }
  }

  #stateFor(typeUrl: string): SotwTypeState {
    let state = this.#types.get(typeUrl);
    if (!state) {
      state = {
        subscription: new TypeSubscription(),
        latestNonce: undefined,
        deliveredVersion: undefined,
        deliveredNames: new Set(),
        deliveredHashes: new Map(),
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

function acknowledgementLog(node: NodeIdentity, state: SotwTypeState, request: DiscoveryRequest): object {
  return { nodeId: node.id, typeUrl: request.type_url, nonce: request.response_nonce, version: state.deliveredVersion };
}
