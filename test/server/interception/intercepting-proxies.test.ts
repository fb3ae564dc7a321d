// `weir bootstrap --mode sidecar|node` and what `weir serve` reads from it: the node id in Istio's
// form, admin on 15000, and the weir.interception metadata, checked field by field.
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { bootstrapCommandFrom } from '../../../server/cli/cli.ts';

// Rendered as `weir bootstrap` renders it for an enrolled node (its credentials directory).
const bootstrapOptionsFrom = (args: string[]) => bootstrapCommandFrom(args).render;
const enrolled = (args: string[]) => ({ ...bootstrapOptionsFrom(args), credentialsDir: '/etc/weir/node' });
import { readInterceptionMetadata } from '../../../server/interception/intercepting-proxies.ts';
import { renderBootstrap } from '../../../server/xds/bootstrap.ts';

interface Rendered {
  node: { id: string; metadata: Record<string, unknown> };
  admin: { address: { socket_address: { port_value: number } } };
}

describe('weir bootstrap --mode', () => {
  it('sidecar: Istio node id, admin 15000, the endpoint and the interception metadata', () => {
    const rendered = parse(renderBootstrap(enrolled(['--mode', 'sidecar', '--endpoint-name', 'memcd', '--endpoint-ip', '10.1.2.3', '--namespace', 'fleet', '--label', 'app=memcd-server']))) as Rendered;
    expect(rendered.node.id).toBe('sidecar.memcd.fleet');
    expect(rendered.admin.address.socket_address.port_value).toBe(15000);
    expect(readInterceptionMetadata(rendered.node.metadata)).toEqual({ kind: 'proxy', metadata: { layout: 'sidecar', interceptionMode: 'REDIRECT', adminPort: 15000, tproxyMark: 1337 } });
    expect(rendered.node.metadata['weir.endpoint']).toMatchObject({ name: 'memcd', ips: ['10.1.2.3'], namespace: 'fleet' });
  });

  it('node: TPROXY and the listener port', () => {
    const rendered = parse(renderBootstrap(enrolled(['--mode', 'node', '--listener-port', '15006', '--node-id', 'node-1']))) as Rendered;
    expect(rendered.node.id).toBe('node-1');
    expect(readInterceptionMetadata(rendered.node.metadata)).toEqual({ kind: 'proxy', metadata: { layout: 'node', interceptionMode: 'TPROXY', adminPort: 15000, tproxyMark: 1337, listenerPort: 15006 } });
  });

  it('refuses incomplete or contradictory flags, saying what is missing', () => {
    expect(() => bootstrapOptionsFrom(['--mode', 'sidecar'])).toThrow('--mode sidecar needs the workload\'s endpoint');
    expect(() => bootstrapOptionsFrom(['--mode', 'node'])).toThrow('--mode node needs --listener-port');
    expect(() => bootstrapOptionsFrom(['--mode', 'mesh'])).toThrow('--mode mesh: expected sidecar or node');
    expect(() => bootstrapOptionsFrom(['--interception-mode', 'TPROXY'])).toThrow('need --mode');
  });
});

describe('weir.interception metadata', () => {
  it('is absent without the key and lists every problem of an invalid one', () => {
    expect(readInterceptionMetadata({ other: 1 })).toEqual({ kind: 'absent' });
    const read = readInterceptionMetadata({ 'weir.interception': { layout: 'mesh', interceptionMode: 'NAT', adminPort: 0, extra: true } });
    expect(read.kind).toBe('invalid');
    expect(read.kind === 'invalid' ? read.problems : []).toEqual([
      'weir.interception.extra: unknown field; expected one of layout, interceptionMode, adminPort, tproxyMark, listenerPort',
      'weir.interception.layout: must be "sidecar" or "node"',
      'weir.interception.interceptionMode: must be "REDIRECT" or "TPROXY"',
      'weir.interception.adminPort: must be an integer 1-65535',
    ]);
    expect(readInterceptionMetadata({ 'weir.interception': { layout: 'node' } })).toEqual({ kind: 'invalid', problems: ['weir.interception.listenerPort: required with layout "node"'] });
  });
});
