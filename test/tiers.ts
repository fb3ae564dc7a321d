// Test tiers, decided by what a test file starts, so a new file lands in the right tier without a
// list to keep up to date. `vitest.config.ts` turns each tier into a vitest project; `npm run
// test:<tier>` runs one (README, "Tests").
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

/** The tiers, cheapest first. A file belongs to the most expensive tier whose starters it calls. */
export const TIERS = ['unit', 'wasm', 'envoy', 'servers'] as const;
export type Tier = (typeof TIERS)[number];

/**
 * What puts a file in a tier: the helpers that start a real server or a demo, Envoy or another
 * local process, or a Wasm module in the test host. Matched against the test file's own text.
 */
const STARTERS: Record<Exclude<Tier, 'unit'>, RegExp> = {
  servers:
    /\b(startEtcd|startKubeApiserver|sharedKubeCluster|startMemcached|startMemcachedIn|cqlIn|cqlAnswersIn|startCassandra|startKafka|spawnServer|runMemcacheWireFuzz|deployMemcacheWire|recordCqlWire|runConsoleProducer|runConsoleConsumer|runCqlsh)\b|docker|\/demo\/main\.ts/,
  envoy:
    /\b(startEnvoy|startNamespacedEnvoy|startServeIn|createLab|startWasmEnvoy\w*|startListeningEnvoy|deployDroids|deployRebels|waitForAgentEnforcing|runWasmProbe|startWeirServe|runWeirCli|envoyVersion)\b|node:child_process/,
  wasm: /\b(loadFilter|loadWeirFilter|loadWeirAgent|startWeirAgent|ensureFiltersBuilt|buildFilters|instantiate)\b|server\/wasm-host\//,
};

/** Folders whose every file is in a tier regardless of its text. */
const FOLDERS: Array<[prefix: string, tier: Tier]> = [
  ['test/demo/', 'servers'],
  ['test/compose/', 'servers'],
];

/** The tier of one test file, given its path relative to the repository root and its text. */
export function tierOf(relativePath: string, text: string): Tier {
  const byFolder = FOLDERS.find(([prefix]) => relativePath.startsWith(prefix));
  if (byFolder !== undefined) return byFolder[1];
  for (const tier of ['servers', 'envoy', 'wasm'] as const) {
    if (STARTERS[tier].test(text)) return tier;
  }
  return 'unit';
}

function testFiles(root: string, directory: string): string[] {
  return readdirSync(path.join(root, directory), { withFileTypes: true }).flatMap((entry) => {
    const relative = path.posix.join(directory, entry.name);
    if (entry.isDirectory()) return entry.name === 'node_modules' ? [] : testFiles(root, relative);
    return entry.name.endsWith('.test.ts') ? [relative] : [];
  });
}

/** Every test file under `test/`, grouped by tier (paths relative to `root`). */
export function testFilesByTier(root: string): Record<Tier, string[]> {
  const tiers: Record<Tier, string[]> = { unit: [], wasm: [], envoy: [], servers: [] };
  for (const file of testFiles(root, 'test')) {
    tiers[tierOf(file, readFileSync(path.join(root, file), 'utf8'))].push(file);
  }
  return tiers;
}
