// What a SotW or delta stream needs from the server around it: the config watcher, the proxy
// status registry, a logger, the control-plane identifier, and the node admission check (mTLS
// identity). Shared by sotw-stream.ts and delta-stream.ts so neither reaches for globals.
import type { Logger } from 'pino';
import type { ConfigWatcher, NodeIdentity } from './config-watcher.ts';
import type { PlainJson } from './node-metadata.ts';
import type { ProxyStatusRegistry } from './proxy-status.ts';

export interface StreamContext {
  watcher: ConfigWatcher;
  status: ProxyStatusRegistry;
  logger: Logger;
  /** Sent as control_plane.identifier on every response. */
  controlPlaneId: string;
  /** Returns why the node may not use this stream, or undefined to admit it. */
  admitNode: (node: NodeIdentity, peerIdentities: readonly string[]) => string | undefined;
  /**
   * Told when an admitted stream opens, with node.metadata as plain JSON (node-metadata.ts); the
   * returned function is called when that stream closes. Used to register sidecar endpoints.
   */
  nodeConnected?: (node: NodeIdentity, metadata: { [key: string]: PlainJson }) => () => void;
}

export function admitEveryNode(): undefined {
  return undefined;
}
