// Test runner settings. Integration tests start real Envoy processes, so files run on at most two
// workers (this is a 2-core machine) and get generous timeouts. Each tier of test/tiers.ts is a
// project: `vitest run --project unit` (npm run test:unit) runs one, `vitest run` runs them all.
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';
import { TIERS, testFilesByTier } from './test/tiers.ts';

const filesByTier = testFilesByTier(fileURLToPath(new URL('.', import.meta.url)));

export default defineConfig({
  test: {
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    maxWorkers: 2,
    reporters: ['default'],
    // One etcd + kube-apiserver per run, started only if a test asks (test/support/kube-cluster.ts).
    globalSetup: ['test/support/kube-cluster-broker.ts'],
    projects: TIERS.map((tier) => ({
      extends: true,
      test: { name: tier, include: filesByTier[tier] },
    })),
  },
});
