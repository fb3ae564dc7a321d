// `weir serve`: loads the config file and the policy store, opens the node authority (the CA that
// gives proxies their identity; mTLS on the xDS port unless `--insecure`), builds the snapshot
// every proxy shares (the redirects' listeners, clusters and parser filters, one
// weir.NetworkPolicy per endpoint and the weir.IdentityMap), starts the xDS server, the REST API
// and the optional read-only metrics endpoint, pushes a new snapshot whenever the store changes,
// and stops everything on request. cli.ts adds the signal handling; tests call
// runServe directly.
import fs from 'node:fs';
import type { Logger } from 'pino';
import { startApiServer, type ApiServer } from '../api/api-server.ts';
import { PUBLIC_NODE_ROUTES } from '../api/node-routes.ts';
import { POLICY_TYPE_URLS, RevisionHistory } from '../api/revision-history.ts';
import { loadWeirConfig, WEIR_CONFIG_DEFAULTS, type WeirConfig } from '../config/weir-config.ts';
import { checkWiring, formatWiringWarning } from '../config/wiring-check.ts';
import { createLogger } from '../log/logger.ts';
import { startMetricsListener, type MetricsListener } from '../observability/metrics-listener.ts';
import { createServeObservability, type ServeObservability } from '../observability/serve-observability.ts';
import { UpstreamProbe } from '../observability/upstream-probe.ts';
import { NodeAuthority } from '../pki/node-authority.ts';
import { registryWithDeclaredParsers } from '../policy/l7-rule-keys.ts';
import { formatProblem } from '../policy/policy-problems.ts';
import { SidecarEndpointRegistry } from '../identity/sidecar-endpoints.ts';
import type { PolicyStore, StoreEvent } from '../store/policy-store.ts';
import { defaultServerNames, startControlServer, type ControlServer, type ControlServerSecurity } from '../xds/control-server.ts';
import { addNodeCertificateService } from '../xds/node-certificate-service.ts';
import { DEFAULT_SERVER_CERTIFICATE_LIFETIME_MS } from '../xds/server-credentials.ts';
import { buildPolicyResources, buildServeSnapshot } from '../snapshot/serve-snapshot.ts';
import type { Snapshot } from '../xds/snapshot.ts';
import { openPolicySource } from './policy-source.ts';
import { InterceptingProxyRegistry, type InterceptingProxy } from '../interception/intercepting-proxies.ts';
import { buildInterceptionSnapshot } from '../interception/interception-snapshots.ts';

export interface ServeOptions {
  /** Default weir.yaml. */
  configFile?: string;
  /** Default: pino JSON on stdout. */
  logger?: Logger;
  /**
   * Plaintext xDS port, proxies unauthenticated (`weir serve --insecure`); the config's
   * `xds.insecure: true` does the same. Logged as a warning and shown by `weir status`.
   */
  insecure?: boolean;
}

export interface RunningServe {
  config: WeirConfig;
  controlServer: ControlServer;
  store: PolicyStore;
  api: ApiServer;
  /** The CA and enrolment record that authenticate proxies. */
  authority: NodeAuthority;
  /** The read-only Prometheus endpoint, when `metrics` is configured. */
  metrics: MetricsListener | undefined;
  /** Which policy revisions were put in force, with the versions that carry them. */
  history: RevisionHistory;
  /** Metrics, the access-log pipeline and the flows/metrics/status routes. */
  observability: ServeObservability;
  /** Rebuilds the snapshot from the config file (e.g. after an edit or a new filter build); throws and keeps the old one if invalid. */
  reload(): void;
  stop(): Promise<void>;
}

export async function runServe(options: ServeOptions = {}): Promise<RunningServe> {
  const configFile = options.configFile ?? WEIR_CONFIG_DEFAULTS.file;
  const logger = options.logger ?? createLogger();
  let config = loadWeirConfig(configFile);
  const apiToken = config.api.tcp ? readApiToken(config.api.tcp.tokenFile) : undefined;
  const authority = new NodeAuthority({
    dir: config.pki.dir,
    trustDomain: config.pki.trustDomain,
    caFiles: config.pki.ca,
    nodeCertificateLifetimeMs: config.pki.nodeCertificateLifetimeSeconds * 1000,
  });
  const security: ControlServerSecurity = options.insecure === true || config.xds.insecure ? { mode: 'insecure' } : { mode: 'mtls', authority };
  const sidecars = new SidecarEndpointRegistry({ logger });
  const source = await openPolicySource(config, logger, sidecars, security.mode === 'mtls' ? authority : undefined);
  const store = source.store;
  const history = new RevisionHistory();
  const interceptors = new InterceptingProxyRegistry(logger);
  let loggedWiring = '';
  // Logged when the list changes, not on every snapshot.
  const logWiring = (warnings: readonly string[]): void => {
    const text = warnings.join('\n');
    if (text === loggedWiring) return;
    loggedWiring = text;
    for (const warning of warnings) logger.warn({ config: configFile }, warning);
  };
  const upstreams = new UpstreamProbe({
    logger,
    targets: () =>
      config.redirects.map((redirect) => ({ redirect: redirect.name, address: redirect.upstream.address, port: redirect.upstream.port, listener: `${redirect.listen.address}:${redirect.listen.port}` })),
  });
  const snapshotNow = (): Snapshot => {
    const state = store.current();
    const snapshot = buildServeSnapshot(config, state);
    history.record(state.revision, new Map(POLICY_TYPE_URLS.map((typeUrl) => [typeUrl, snapshot.forType(typeUrl).version])));
    logWiring(checkWiring(config.redirects, state).map(formatWiringWarning));
    return snapshot;
  };
  const interceptionSnapshotNow = (proxy: InterceptingProxy): Snapshot => {
    const state = store.current();
    return buildInterceptionSnapshot(proxy, { policySet: state.policySet, policyResources: buildPolicyResources(state), filtersDir: config.filtersDir, filterDelivery: config.xds.filterDelivery, logger });
  };
  // Set once the control server runs; until then a connecting proxy cannot be answered anyway.
  let publishInterceptor: (proxy: InterceptingProxy) => void = () => undefined;
  const stops: Array<() => Promise<void>> = [() => store.close(), async () => sidecars.close(), async () => upstreams.stop()];
  const stopAll = async (): Promise<void> => {
    for (const stop of stops.reverse()) await stop();
  };
  const observability = createServeObservability({
    logger,
    currentState: () => store.current(),
    enforcedRevision: (proxy) => history.enforcedBy(proxy)?.revision,
    security: () => {
      const enrolments = authority.enrolments.list();
      return { mode: security.mode, trustDomain: authority.trustDomain, enrolledNodes: enrolments.length, revokedNodes: enrolments.filter((node) => node.revokedAt !== undefined).length };
    },
    wiring: () => checkWiring(config.redirects, store.current()).map(formatWiringWarning),
    upstreams: () => upstreams.states(),
  });
  upstreams.start();
  try {
    const controlServer = await startControlServer({
      security,
      status: observability.status,
      registerServices: (server, authenticator) => {
        observability.registerServices(server, authenticator);
        if (security.mode === 'mtls') addNodeCertificateService(server, { authority, logger });
      },
      nodeConnected: (node, metadata) => {
        const interceptor = interceptors.streamOpened(node.id, metadata);
        const released = sidecars.streamOpened(node.id, metadata);
        // A reconnect with unchanged metadata changes no policy; the proxy still needs its layout now.
        if (interceptor !== undefined) publishInterceptor(interceptor);
        return released;
      },
      address: config.xds.address,
      port: config.xds.port,
      batchWindowMs: config.xds.batchWindowMs,
      logger,
      snapshot: snapshotNow(),
    });
    stops.push(() => controlServer.stop());
    const attached = source.attach({ status: controlServer.status, history, sidecars, apiSocket: config.api.socket, xds: { address: config.xds.address, port: controlServer.port } });
    stops.push(() => attached.stop());
    publishInterceptor = (proxy) => {
      try {
        controlServer.setSnapshot(interceptionSnapshotNow(proxy), proxy.nodeId);
      } catch (error) {
        logger.error({ nodeId: proxy.nodeId, error: error instanceof Error ? error.message : String(error) }, 'cannot build the interception layout for this proxy; it keeps its previous snapshot');
      }
    };
    const publishAll = (): void => {
      controlServer.setSnapshot(snapshotNow());
      for (const proxy of interceptors.list()) publishInterceptor(proxy);
    };
    store.watch((event) => onStoreEvent(event, { logger, publish: publishAll }));
    const apiTls = config.api.tcp ? apiTlsCertificate(config.api.tcp, authority) : undefined;
    const api = await startApiServer({
      socket: config.api.socket,
      ...(config.api.tcp && apiToken !== undefined && apiTls ? { tcp: { address: config.api.tcp.address, port: config.api.tcp.port, token: apiToken, tls: apiTls.current } } : {}),
      context: {
        store,
        status: controlServer.status,
        history,
        logger,
        filtersDir: config.filtersDir,
        nodes: { authority, mode: security.mode, serverCertificateNotAfter: () => controlServer.security().serverCertificateNotAfter, logger, ...(source.sharedEnrolments === undefined ? {} : { shared: source.sharedEnrolments }) },
        wiring: (state) => checkWiring(config.redirects, state).map(formatWiringWarning),
        redirects: () => config.redirects,
        ...(attached.fleet === undefined ? {} : { fleet: attached.fleet }),
      },
      logger,
      mounts: observability.mounts,
      publicRoutes: PUBLIC_NODE_ROUTES,
    });
    stops.push(() => api.stop());
    if (apiTls?.renew) {
      const renewal = setInterval(() => api.replaceTlsCertificate(apiTls.renew?.() ?? apiTls.current), (DEFAULT_SERVER_CERTIFICATE_LIFETIME_MS * 2) / 3);
      renewal.unref();
      stops.push(async () => clearInterval(renewal));
    }
    const metrics = config.metrics ? await startMetricsListener({ ...config.metrics, registry: observability.registry, logger }) : undefined;
    if (metrics) stops.push(() => metrics.stop());
    logger.info(
      {
        config: configFile,
        redirects: config.redirects.map((redirect) => redirect.name),
        xdsPort: controlServer.port,
        security: security.mode,
        trustDomain: authority.trustDomain,
        ca: authority.ca.certificateFile,
        apiSocket: api.socket,
        apiTcpPort: api.tcpPort,
        metricsPort: metrics?.port,
        policySource: source.description,
        policyRevision: store.current().revision,
      },
      'weir serve ready',
    );
    return {
      config,
      controlServer,
      store,
      api,
      authority,
      metrics,
      history,
      observability,
      reload: () => {
        const next = loadWeirConfig(configFile);
        const restartOnly = (value: WeirConfig): string => JSON.stringify([value.xds, value.policies, value.api, value.pki, value.metrics]);
        if (restartOnly(next) !== restartOnly(config)) {
          logger.warn({ config: configFile }, 'xds, policies, api, pki and metrics settings changed; they apply only after a restart of weir serve');
        }
        const previous = config;
        config = { ...next, xds: previous.xds, policies: previous.policies, api: previous.api, pki: previous.pki, metrics: previous.metrics };
        try {
          controlServer.setSnapshot(snapshotNow());
          for (const proxy of interceptors.list()) publishInterceptor(proxy);
        } catch (error) {
          config = previous;
          throw error;
        }
        logger.info({ config: configFile, redirects: config.redirects.map((redirect) => redirect.name) }, 'config reloaded');
      },
      stop: stopAll,
    };
  } catch (error) {
    await stopAll();
    throw error;
  }
}

function onStoreEvent(event: StoreEvent, handlers: { logger: Logger; publish: () => void }): void {
  if (event.kind === 'rejected') {
    handlers.logger.error({ problems: event.problems.map(formatProblem) }, 'policy change rejected; the previous policy stays in force');
    return;
  }
  try {
    handlers.publish();
    handlers.logger.info({ revision: event.state.revision, files: event.state.files.map((file) => file.name) }, 'policy revision in force');
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    handlers.logger.error({ revision: event.state.revision, error: reason }, 'cannot build resources for the new policy revision; proxies keep the previous one');
  }
}

/** The TCP listener's certificate: the configured files, or one from the weir CA that is renewed while serving. */
function apiTlsCertificate(
  tcp: NonNullable<WeirConfig['api']['tcp']>,
  authority: NodeAuthority,
): { current: { certificatePem: string; privateKeyPem: string }; renew: (() => { certificatePem: string; privateKeyPem: string }) | undefined } {
  if (tcp.tls) {
    const read = (file: string, what: string): string => {
      try {
        return fs.readFileSync(file, 'utf8');
      } catch (error) {
        throw new Error(`api.tcp.${what}: cannot read ${file} (${error instanceof Error ? error.message : String(error)})`);
      }
    };
    return { current: { certificatePem: read(tcp.tls.cert, 'cert'), privateKeyPem: read(tcp.tls.key, 'key') }, renew: undefined };
  }
  const issue = (): { certificatePem: string; privateKeyPem: string } => authority.ca.issueServerCertificate(defaultServerNames(tcp.address), DEFAULT_SERVER_CERTIFICATE_LIFETIME_MS);
  return { current: issue(), renew: issue };
}

function readApiToken(file: string): string {
  let token: string;
  try {
    token = fs.readFileSync(file, 'utf8').trim();
  } catch (error) {
    throw new Error(`api.tcp.tokenFile: cannot read ${file} (${error instanceof Error ? error.message : String(error)}); create it with a long random token`);
  }
  if (token.length < 16) throw new Error(`api.tcp.tokenFile: the token in ${file} is shorter than 16 characters; use a long random token`);
  return token;
}
