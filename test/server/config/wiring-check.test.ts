// The wiring checks between weir.yaml's redirects and the store's policies: the port mistakes a new
// user makes (a policy on the listener's port), and what is fine.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { RedirectConfig } from '../../../server/config/weir-config.ts';
import { checkWiring, formatWiringWarning } from '../../../server/config/wiring-check.ts';
import { projectRoot } from '../../../demo/servers/project-paths.ts';
import { createIdentityAllocators } from '../../../server/policy/identity-universe.ts';
import { compileStoreFiles } from '../../../server/store/store-contents.ts';

function stateWith(policy: string) {
  const files = new Map([
    ['endpoints.yaml', fs.readFileSync(path.join(projectRoot, 'demo/fleet/endpoints/secure-fleet.yaml'), 'utf8')],
    ['policy.yaml', policy],
  ]);
  const compiled = compileStoreFiles(files, { enforcementMode: 'default', allocators: createIdentityAllocators() });
  if (!compiled.ok) throw new Error(JSON.stringify(compiled.problems));
  return compiled.state;
}

const guidePolicy = fs.readFileSync(path.join(projectRoot, 'examples/policies/memcached-secure-fleet.yaml'), 'utf8');
const redirect = (overrides: Partial<RedirectConfig> = {}): RedirectConfig => ({
  name: 'memcache',
  parser: 'memcache',
  endpoint: 'memcd-server',
  listen: { address: '127.0.0.1', port: 10000 },
  upstream: { address: '127.0.0.1', port: 11211 },
  ...overrides,
});

describe('wiring checks', () => {
  it('finds nothing wrong when the policy names the endpoint port the redirect guards', () => {
    expect(checkWiring([redirect()], stateWith(guidePolicy))).toEqual([]);
    expect(checkWiring([redirect({ upstream: { address: '127.0.0.1', port: 40123 }, endpointPort: 11211 })], stateWith(guidePolicy))).toEqual([]);
  });

  it('says so when a policy names the listener port instead of the endpoint port', () => {
    const onListener = guidePolicy.replaceAll("port: '11211'", "port: '10000'");
    expect(checkWiring([redirect()], stateWith(onListener)).map(formatWiringWarning)).toEqual([
      'redirect memcache: guards endpoint "memcd-server" port 11211, but no ingress rule of its policies names that port (they name 10000), so every connection through listener 127.0.0.1:10000 is denied. Port 10000 is this redirect\'s listener; policies name the endpoint\'s port (11211).',
      'endpoint memcd-server: its policies give port 10000 memcache rules, but no redirect guards that port (redirects guard 11211), so those rules are enforced nowhere here. Port 10000 is the listener of redirect memcache; write the rule for the endpoint\'s port 11211.',
    ]);
  });

  it('warns about a redirect guarding an endpoint the store does not define', () => {
    expect(checkWiring([redirect({ endpoint: 'memcached' })], stateWith(guidePolicy)).map(formatWiringWarning)).toEqual([
      'redirect memcache: guards endpoint "memcached", which the policy store does not define: its parser denies every request until an Endpoint document of that name is imported',
    ]);
  });
});
