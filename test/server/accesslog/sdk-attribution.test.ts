// What the parser SDK puts into each access-log entry besides the parser's fields, on the Proxy-Wasm
// test host: the direction and endpoint of the plugin configuration, both identities (the remote
// from the identity map, the local from the published policy), the policy revision the agent
// published, the rule that allowed a request, and Response entries for replies (none for the
// replies to the SDK's probes). The Weir agent runs in the same host process and publishes the
// policy it receives, as in Envoy.
import { beforeAll, describe, expect, it } from 'vitest';
import { HostProcess, lineResponder, type FilterVm } from '../../../server/wasm-host/index.ts';
import type { AccessLogEntry } from '../../filters/envoy-harness.ts';
import { accessLog, agentWithPublishedPolicy, ensureFiltersBuilt, loadWeirFilter } from '../../filters/host-helpers.ts';
import { ENDPOINTS, R2D2_DB_POLICY, compileResources, type CompiledResources } from '../../filters/agent/policy-resources.ts';

const REVISION = 'store-revision-7';
const ALLOW_WEB = 'policies/p0.yaml specs[0].ingress[0]';
const ALLOW_ADMIN = 'policies/p0.yaml specs[0].ingress[1]';

let compiled: CompiledResources;

beforeAll(() => {
  ensureFiltersBuilt('agent', 'r2d2');
  compiled = compileResources([R2D2_DB_POLICY], ENDPOINTS, { revision: REVISION });
}, 600_000);

function loadR2d2(process: HostProcess, configuration: object): FilterVm {
  return loadWeirFilter('r2d2', 'r2d2', { parser: 'r2d2', ...configuration }, () => lineResponder((line) => (line === '' ? 'ERROR\r\n' : 'OK done\r\n')), process);
}

type Attribution = Pick<AccessLogEntry, 'type' | 'direction' | 'endpoint' | 'revision' | 'rule' | 'sourceIdentity' | 'destinationIdentity' | 'fields'>;

function attributionOf(entry: AccessLogEntry): Attribution {
  const { type, direction, endpoint, revision, rule, sourceIdentity, destinationIdentity, fields } = entry;
  return { type, direction, endpoint, revision, rule, sourceIdentity, destinationIdentity, fields };
}

describe('access-log entries from the parser SDK', () => {
  it('carry direction, endpoint, both identities, the revision and the allowing rule; replies become Response entries', () => {
    const r2d2 = loadR2d2(agentWithPublishedPolicy(compiled), { policy: 'agent', endpoint: 'db', direction: 'ingress', port: 9000 });
    const web = r2d2.openConnection({ source: { address: '127.0.0.2', port: 40001 } });
    web.fromClient('READ sloop\r\n').fromClient('WRITE logs\r\n');
    expect(web.clientText).toBe('OK done\r\nERROR\r\n');
    const webId = compiled.identityOf('web');
    const dbId = compiled.identityOf('db');
    const common = { direction: 'ingress', endpoint: 'db', revision: REVISION, sourceIdentity: webId, destinationIdentity: dbId } as const;
    expect(accessLog(web).map(attributionOf)).toEqual([
      { ...common, type: 'Request', rule: `${ALLOW_WEB} l7[0]`, fields: { cmd: 'READ', file: 'sloop' } },
      { ...common, type: 'Response', rule: undefined, fields: { status: 'OK' } },
      // The server's answer to the probe that replaced WRITE is the denial's reply: no Response.
      { ...common, type: 'Denied', rule: undefined, fields: { cmd: 'WRITE', file: 'logs' } },
    ]);

    const admin = r2d2.openConnection({ source: { address: '127.0.0.3', port: 40002 } });
    admin.fromClient('WRITE logs\r\n');
    expect(accessLog(admin).map((entry) => [entry.type, entry.rule, entry.sourceIdentity])).toEqual([
      ['Request', `${ALLOW_ADMIN} l7[1]`, compiled.identityOf('admin')],
      ['Response', undefined, compiled.identityOf('admin')],
    ]);
  });

  it('egress entries have the local endpoint as source and the remote (by destination address) as destination', () => {
    const r2d2 = loadR2d2(agentWithPublishedPolicy(compiled), { policy: 'agent', endpoint: 'web', direction: 'egress', port: 9000 });
    const toDb = r2d2.openConnection({ source: { address: '127.0.0.2', port: 40000 }, destination: { address: '127.0.0.10', port: 9000 } });
    toDb.fromClient('READ sloop\r\n');
    const [request] = accessLog(toDb);
    expect(request).toMatchObject({ type: 'Request', direction: 'egress', endpoint: 'web', revision: REVISION, sourceIdentity: compiled.identityOf('web'), destinationIdentity: compiled.identityOf('db') });
  });

  it('with static rules: the rule index, and direction and endpoint when configured', () => {
    const r2d2 = loadR2d2(new HostProcess(), { rules: [{ cmd: 'HALT' }, { cmd: 'READ' }], endpoint: 'db', direction: 'egress' });
    const connection = r2d2.openConnection();
    connection.fromClient('READ a\r\n');
    expect(accessLog(connection).map(attributionOf)).toEqual([
      { type: 'Request', direction: 'egress', endpoint: 'db', revision: undefined, rule: 'rules[1]', sourceIdentity: undefined, destinationIdentity: undefined, fields: { cmd: 'READ', file: 'a' } },
      { type: 'Response', direction: 'egress', endpoint: 'db', revision: undefined, rule: undefined, sourceIdentity: undefined, destinationIdentity: undefined, fields: { status: 'OK' } },
    ]);
    const unconfigured = loadR2d2(new HostProcess(), {}).openConnection();
    unconfigured.fromClient('READ a\r\n');
    expect(accessLog(unconfigured)[0]).not.toHaveProperty('direction');
  });
});
