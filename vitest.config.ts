// Test runner settings. Integration tests start real Envoy processes, so files run on at most two
// workers (this is a 2-core machine) and get generous timeouts.
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    maxWorkers: 2,
    reporters: ['default'],
    // One etcd + kube-apiserver per run, started only if a test asks (test/support/kube-cluster.ts).
    globalSetup: ['test/support/kube-cluster-broker.ts'],
  },
});
