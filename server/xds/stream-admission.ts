// The part of an xDS stream that does not depend on its variant: admitting the node named by the
// first request (node.id required, bound to the client certificate by the authenticator), ending
// the stream when that authentication ends (certificate expired, node revoked), reporting the
// proxy connected and disconnected to the status registry and the node-connected hook, and logging
// both once per proxy, not per stream. sotw-stream.ts and delta-stream.ts each own one; they keep the per-type protocol.
import type { AuthenticatedSession } from '../pki/peer-authenticator.ts';
import type { NodeIdentity } from './config-watcher.ts';
import { StreamStatus, type DiscoveryNode, type XdsStreamTransport } from './discovery-messages.ts';
import { structToJson } from './node-metadata.ts';
import type { StreamVariant } from './proxy-status.ts';
import type { StreamContext } from './stream-context.ts';

export class StreamAdmission {
  #node: NodeIdentity | undefined;
  #closed = false;
  #nodeDisconnected: (() => void) | undefined;
  #session: AuthenticatedSession | undefined;

  constructor(
    private readonly transport: Pick<XdsStreamTransport<unknown, unknown>, 'peer' | 'peerCertificate' | 'fail'>,
    private readonly context: StreamContext,
    private readonly variant: StreamVariant,
  ) {}

  get closed(): boolean {
    return this.#closed;
  }

  /**
   * The stream's node: admitted from this request if it is the first one. Undefined when the
   * stream is refused (then it is already failed and closed).
   */
  nodeFor(request: { node?: DiscoveryNode | null }, requestName: string): NodeIdentity | undefined {
    if (this.#node) return this.#node;
    if (!request.node || request.node.id === '') {
      this.refuse(StreamStatus.InvalidArgument, `the first ${requestName} on a stream must carry node.id`);
      return undefined;
    }
    const node: NodeIdentity = { id: request.node.id, cluster: request.node.cluster };
    const admission = this.context.authenticator.authenticate(node.id, this.transport.peerCertificate);
    if ('refusal' in admission) {
      this.context.logger.warn({ nodeId: node.id, peer: this.transport.peer, reason: admission.refusal }, 'xDS stream refused');
      this.refuse(StreamStatus.PermissionDenied, `xDS stream refused: ${admission.refusal}`);
      return undefined;
    }
    this.#session = admission.session;
    admission.session.onEnd((reason) => {
      this.context.logger.warn({ nodeId: node.id, peer: this.transport.peer, reason }, 'xDS stream ended: its authentication ended');
      // Failing the transport closes it, which closes the stream (and its watches) through onClose.
      this.transport.fail(StreamStatus.Unauthenticated, reason);
    });
    this.#node = node;
    this.context.status.streamOpened(node, { variant: this.variant, peer: this.transport.peer });
    this.#nodeDisconnected = this.context.nodeConnected?.(node, structToJson(request.node.metadata));
    // An Envoy opens more than one stream (its own ADS, its Weir agent's): one line per proxy.
    const openStreams = this.context.status.get(node.id)?.openStreams ?? 1;
    const fields = { nodeId: node.id, cluster: node.cluster, peer: this.transport.peer, variant: this.variant, openStreams };
    if (openStreams === 1) this.context.logger.info(fields, 'proxy connected');
    else this.context.logger.debug(fields, 'proxy opened another xDS stream');
    return node;
  }

  // Only the first request is admitted, so no watch is open yet that closing would have to cancel.
  private refuse(status: StreamStatus, message: string): void {
    this.transport.fail(status, message);
    this.close();
  }

  /** Marks the stream closed and reports the disconnect; true only on the first call. */
  close(): boolean {
    if (this.#closed) return false;
    this.#closed = true;
    this.#session?.close();
    if (this.#node) {
      this.context.status.streamClosed(this.#node);
      this.#nodeDisconnected?.();
      const openStreams = this.context.status.get(this.#node.id)?.openStreams ?? 0;
      const fields = { nodeId: this.#node.id, peer: this.transport.peer, openStreams };
      if (openStreams === 0) this.context.logger.info(fields, 'proxy disconnected');
      else this.context.logger.debug(fields, 'proxy closed one of its xDS streams');
    }
    return true;
  }
}
