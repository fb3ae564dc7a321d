// The line a filter logs when Envoy configures it says what it enforces: the agent's policy for
// its endpoint (what `weir serve` pushes), static rules, or the parser's default (issue 19: it said
// "no rules (parser default)" while the agent's policy was enforced).
import { describe, expect, it } from 'vitest';
import { loadWeirFilter } from '../host-helpers.ts';

function configuredLine(configuration: object): string | undefined {
  const filter = loadWeirFilter('r2d2', 'r2d2', configuration);
  return filter.logs.map((record) => record.message).find((message) => message.includes(': configured,'));
}

describe('the start-up line of a parser', () => {
  it('names the agent\'s policy, its endpoint, direction and port', () => {
    expect(configuredLine({ parser: 'r2d2', policy: 'agent', endpoint: 'droid-server', direction: 'ingress', port: 9000 })).toBe(
      'weir r2d2: configured, maxBufferBytes=1048576, the agent\'s policy for endpoint droid-server (ingress, port 9000)',
    );
  });

  it('counts static rules, and says when the parser default applies', () => {
    expect(configuredLine({ parser: 'r2d2', rules: [{ cmd: 'READ' }] })).toBe('weir r2d2: configured, maxBufferBytes=1048576, 1 static rule');
    expect(configuredLine({ parser: 'r2d2' })).toBe('weir r2d2: configured, maxBufferBytes=1048576, no rules (parser default)');
  });
});
