// `weir serve`: loads the config file, builds the per-node snapshot (listeners and clusters of the
// redirects), starts the xDS server and the status endpoint, and stops both on request. main.ts
// adds the signal handling; tests call runServe directly.
import type { Logger } from 'pino';
import { loadWeirConfig, WEIR_CONFIG_DEFAULTS, type WeirConfig } from '../config/weir-config.ts';
import { createLogger } from '../log/logger.ts';
import { startControlServer, type ControlServer } from '../xds/control-server.ts';
import { buildRedirectSnapshot } from '../xds/redirect-snapshot.ts';
import type { Snapshot } from '../xds/snapshot.ts';
import { startStatusEndpoint, type StatusEndpoint } from './status-endpoint.ts';

export interface ServeOptions {
  /** Default weir.yaml. */
  configFile?: string;
  /** Default: pino JSON on stdout. */
  logger?: Logger;
}

export interface RunningServe {
  config: WeirConfig;
  controlServer: ControlServer;
  statusEndpoint: StatusEndpoint;
  /** Rebuilds the snapshot from the config file (e.g. after an edit or a new filter build); throws and keeps the old one if invalid. */
  reload(): void;
  stop(): Promise<void>;
}

export async function runServe(options: ServeOptions = {}): Promise<RunningServe> {
  const configFile = options.configFile ?? WEIR_CONFIG_DEFAULTS.file;
  const logger = options.logger ?? createLogger();
  let config = loadWeirConfig(configFile);
  const snapshot = snapshotOf(config);
  const controlServer = await startControlServer({
    address: config.xds.address,
    port: config.xds.port,
    batchWindowMs: config.xds.batchWindowMs,
    logger,
    snapshot,
    ...(config.xds.tls
      ? { tls: { certFile: config.xds.tls.cert, keyFile: config.xds.tls.key, clientCaFile: config.xds.tls.clientCa } }
      : {}),
  });
  const statusEndpoint = await startStatusEndpoint({
    address: config.status.address,
    port: config.status.port,
    listProxies: () => controlServer.listProxies(),
  }).catch(async (error: unknown) => {
    await controlServer.stop();
    throw error;
  });
  logger.info(
    { config: configFile, redirects: config.redirects.map((redirect) => redirect.name), xdsPort: controlServer.port, statusPort: statusEndpoint.port },
    'weir serve ready',
  );
  return {
    config,
    controlServer,
    statusEndpoint,
    reload: () => {
      const next = loadWeirConfig(configFile);
      controlServer.setSnapshot(snapshotOf(next));
      if (JSON.stringify([next.xds, next.status]) !== JSON.stringify([config.xds, config.status])) {
        logger.warn({ config: configFile }, 'xds and status settings changed; they apply only after a restart of weir serve');
      }
      config = next;
      logger.info({ config: configFile, redirects: config.redirects.map((redirect) => redirect.name) }, 'config reloaded');
    },
    stop: async () => {
      await statusEndpoint.stop();
      await controlServer.stop();
    },
  };
}

function snapshotOf(config: WeirConfig): Snapshot {
  return buildRedirectSnapshot({
    redirects: config.redirects,
    filtersDir: config.filtersDir,
    filterDelivery: config.xds.filterDelivery,
    endpointDelivery: config.xds.endpointDelivery,
  });
}
