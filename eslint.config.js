// Package boundaries of server/ (STYLE.md §1, "no import loops between folders"): which folder may
// import which, as a lint rule. `npm run lint`; `npm test` runs it before the tests. Only imports are
// checked here; types and style are tsc's and the reviewers' job.
import tsParser from '@typescript-eslint/parser';

/** The server folders whose imports are restricted, with the folders each must not import. */
const BOUNDARIES = {
  // The policy model knows nothing of how it is delivered, stored or shown.
  policy: ['xds', 'store', 'api', 'cli', 'metrics', 'observability', 'accesslog', 'config'],
  identity: ['xds', 'policy', 'store', 'api', 'cli', 'metrics', 'observability', 'accesslog', 'config'],
  store: ['xds', 'api', 'cli', 'metrics', 'observability', 'accesslog', 'config'],
  // The xDS server serves compiled resources through a watcher; it never reads policy or the store.
  xds: ['policy', 'store', 'api', 'cli', 'metrics', 'observability', 'accesslog', 'config'],
  pki: ['xds', 'policy', 'identity', 'store', 'api', 'cli', 'metrics', 'observability', 'accesslog', 'config'],
  log: ['xds', 'policy', 'identity', 'store', 'api', 'cli', 'metrics', 'observability', 'accesslog', 'config', 'pki'],
  'wasm-host': ['xds', 'policy', 'identity', 'store', 'api', 'cli', 'metrics', 'observability', 'accesslog', 'config', 'pki'],
  config: ['xds', 'api', 'cli', 'metrics', 'observability', 'accesslog'],
  api: ['cli', 'metrics', 'observability', 'accesslog'],
  accesslog: ['cli', 'api'],
  // Capture rules and proxy layouts; the CLI and the REST API call them, never the reverse.
  interception: ['store', 'api', 'cli', 'metrics', 'observability', 'accesslog', 'config', 'kubernetes', 'istio'],
  // Kubernetes as a policy source: the store's contract, nothing of how policy is served or shown.
  kubernetes: ['xds', 'api', 'cli', 'metrics', 'observability', 'accesslog', 'config', 'interception', 'istio'],
  istio: ['api', 'cli', 'metrics', 'observability', 'accesslog', 'config', 'kubernetes'],
  envoy: ['xds', 'policy', 'identity', 'store', 'api', 'cli', 'metrics', 'observability', 'accesslog', 'config', 'pki', 'interception', 'kubernetes', 'istio'],
};

/** Folders where the gRPC library must not appear (the transport is the xds folder's business). */
const NO_GRPC = ['policy', 'identity', 'store'];

export default [
  {
    files: ['server/**/*.ts'],
    languageOptions: { parser: tsParser, ecmaVersion: 'latest', sourceType: 'module' },
    linterOptions: { reportUnusedDisableDirectives: 'error' },
  },
  ...Object.entries(BOUNDARIES).map(([folder, forbidden]) => ({
    files: [`server/${folder}/**/*.ts`],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            ...forbidden.map((other) => ({
              group: [`**/${other}/**`],
              message: `server/${folder}/ must not import server/${other}/ (package boundaries in eslint.config.js; STYLE.md §1).`,
            })),
            ...(NO_GRPC.includes(folder)
              ? [{ group: ['@grpc/*'], message: `server/${folder}/ must not depend on gRPC: only server/xds/ speaks it.` }]
              : []),
          ],
        },
      ],
    },
  })),
];
