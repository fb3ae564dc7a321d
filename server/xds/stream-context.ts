// What a SotW or delta stream needs from the server around it: the config watcher, the proxy
// status registry, a logger, the control-plane identifier, and the authenticator that binds the
// stream to a node (mTLS identity). Shared by sotw-stream.ts and delta-stream.ts so neither
// reaches for globals.
import type { Logger } from 'pino';
import type { PeerAuthenticator } from '../pki/peer-authenticator.ts';
import type { ConfigWatcher, NodeIdentity } from './config-watcher.ts';
import type { PlainJson } from './node-metadata.ts';
import type { ProxyStatusRegistry } from './proxy-status.ts';

export interface StreamContext {
  watcher: ConfigWatcher;
  status: ProxyStatusRegistry;
  logger: Logger;
  /** control_plane of every response: one object shared by every response of every stream. */
  readonly controlPlane: { readonly identifier: string };
  /** Admits the node a stream claims, given the client certificate TLS verified, or refuses it. */
  authenticator: PeerAuthenticator;
  /**
   * Told when an admitted stream opens, with node.metadata as plain JSON (node-metadata.ts); the
   * returned function is called when that stream closes. Used to register sidecar endpoints.
   */
  nodeConnected?: (node: NodeIdentity, metadata: { [key: string]: PlainJson }) => () => void;
}
