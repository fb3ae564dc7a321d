// Package boundaries of server/ (STYLE.md §1, "no import loops between folders"): which folder may
// import which, as a lint rule. `npm run lint`; `npm test` runs it before the tests. Only imports are
// checked here; types and style are tsc's and the reviewers' job.
import tsParser from '@typescript-eslint/parser';

/** The server folders whose imports are restricted, with the folders each must not import. */
const BOUNDARIES = {
  // The policy model knows nothing of how it is delivered, stored or shown.
  policy: ['xds', 'snapshot', 'store', 'api', 'cli', 'observability', 'accesslog', 'config'],
  identity: ['xds', 'snapshot', 'policy', 'store', 'api', 'cli', 'observability', 'accesslog', 'config'],
  store: ['xds', 'snapshot', 'api', 'cli', 'observability', 'accesslog', 'config'],
  // The xDS server serves compiled resources through a watcher; it never reads policy or the store.
  xds: ['policy', 'snapshot', 'store', 'api', 'cli', 'observability', 'accesslog', 'config', 'interception', 'kubernetes', 'istio'],
  // Store state and redirects in, one xDS snapshot out (serve-snapshot.ts); nothing of how it is served or shown.
  snapshot: ['api', 'cli', 'observability', 'accesslog', 'interception', 'kubernetes', 'istio'],
  pki: ['xds', 'snapshot', 'policy', 'identity', 'store', 'api', 'cli', 'observability', 'accesslog', 'config'],
  log: ['xds', 'snapshot', 'policy', 'identity', 'store', 'api', 'cli', 'observability', 'accesslog', 'config', 'pki'],
  'wasm-host': ['xds', 'snapshot', 'policy', 'identity', 'store', 'api', 'cli', 'observability', 'accesslog', 'config', 'pki'],
  config: ['xds', 'snapshot', 'api', 'cli', 'observability', 'accesslog'],
  api: ['cli', 'observability', 'accesslog'],
  // The access-log path reports through counters it is handed (access-log-counters.ts); observability
  // reads it, never the reverse.
  accesslog: ['cli', 'api', 'observability', 'snapshot'],
  // Health, status and metrics of the running server; the CLI prints them, never the reverse.
  observability: ['cli', 'api', 'snapshot', 'interception', 'kubernetes', 'istio'],
  // Capture rules and proxy layouts; the CLI and the REST API call them, never the reverse.
  interception: ['store', 'api', 'cli', 'observability', 'accesslog', 'config', 'kubernetes', 'istio'],
  // Kubernetes as a policy source: the store's contract, nothing of how policy is served or shown.
  kubernetes: ['xds', 'snapshot', 'api', 'cli', 'observability', 'accesslog', 'config', 'interception', 'istio'],
  istio: ['api', 'cli', 'observability', 'accesslog', 'config', 'kubernetes'],
  // Commands may use every folder above.
  cli: [],
  'parser-scaffold': ['xds', 'snapshot', 'policy', 'identity', 'store', 'api', 'cli', 'observability', 'accesslog', 'config', 'pki'],
};

/** What the server never imports: the helpers of tests, demos, benchmarks and scripts live outside it. */
const OUTSIDE_SERVER = ['demo', 'test', 'bench', 'scripts'];

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
            ...OUTSIDE_SERVER.map((outside) => ({
              group: [`**/../${outside}/**`],
              message: `server/ must not import ${outside}/: helpers for tests, demos and benchmarks live outside the server.`,
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
