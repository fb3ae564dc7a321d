// `weir sidecar iptables --dry-run` against Istio's own golden files: for each istio-iptables test
// case Weir's flags can express, the iptables-restore input Weir prints must be the rules
// istio-iptables records for that configuration, line for line. The golden files are read from the
// istio.io/istio module the set-up downloads (demo/servers/istio-capture-goldens.ts); their
// `iptables-save` / `ip6tables-save` lines are the state checks istio-iptables runs around the
// restore, not rules, and Weir's dry run prints `#` comments instead; both are left out.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runSidecarCommand, sidecarIptablesFrom } from '../../../server/cli/sidecar-command.ts';
import { istioCaptureGoldenDir, ISTIO_MODULE_VERSION } from '../../../demo/servers/istio-capture-goldens.ts';
import { GOLDEN_CASES, GOLDEN_CASES_NOT_COMPARED } from './istio-golden-cases.ts';

const goldenDir = istioCaptureGoldenDir();

describe(`weir sidecar iptables --dry-run matches istio-iptables (istio.io/istio@${ISTIO_MODULE_VERSION})`, () => {
  it('has the golden files (npm run setup downloads them from the Go module proxy)', () => {
    expect(goldenDir, 'run `npm run setup`: it downloads istio.io/istio into .weir/go-mod').toBeDefined();
  });

  it('accounts for every golden case: compared, or left out with a reason', () => {
    const names = fs.readdirSync(goldenDir!).filter((file) => file.endsWith('.golden')).map((file) => file.slice(0, -'.golden'.length));
    const accounted = [...GOLDEN_CASES.map((entry) => entry.name), ...Object.keys(GOLDEN_CASES_NOT_COMPARED)];
    expect(names.filter((name) => !accounted.includes(name))).toEqual([]);
  });

  for (const { name, args } of GOLDEN_CASES) {
    it(`${name}: ${args.map((arg) => (arg === '' ? "''" : arg)).join(' ')}`, () => {
      const golden = fs.readFileSync(path.join(goldenDir!, `${name}.golden`), 'utf8').split('\n').filter((line) => line !== '' && line !== 'iptables-save' && line !== 'ip6tables-save');
      const printed = runSidecarCommand(['iptables', ...args, '--dry-run']).split('\n').filter((line) => line !== '' && !line.startsWith('#'));
      expect(printed).toEqual(golden);
    });
  }
});

describe('weir sidecar iptables flags', () => {
  it("defaults to the values Istio's injector passes to istio-init", () => {
    const { options, action } = sidecarIptablesFrom([]);
    expect(action).toBe('apply');
    expect(options).toMatchObject({ proxyPort: 15001, inboundCapturePort: 15006, proxyUids: ['1337'], proxyGids: ['1337'], mode: 'REDIRECT', inboundPorts: '*', inboundPortsExclude: ['15090', '15021', '15020'], outboundRangesInclude: '*' });
  });

  it('prints the TPROXY policy route with the rules', () => {
    const printed = runSidecarCommand(['iptables', '-m', 'TPROXY', '--dry-run']);
    expect(printed).toContain('-A ISTIO_TPROXY ! -d 127.0.0.1/32 -p tcp -j TPROXY --tproxy-mark 1337/0xffffffff --on-port 15006');
    expect(printed).toContain('# then: ip -4 rule add fwmark 1337 lookup 133');
    expect(printed).toContain('# then: ip -4 route replace local default dev lo table 133');
  });

  it('rejects what istio-iptables would misapply, naming the flag', () => {
    expect(() => sidecarIptablesFrom(['-m', 'tproxy'])).toThrow('-m tproxy: expected REDIRECT or TPROXY');
    expect(() => sidecarIptablesFrom(['-p', '70000'])).toThrow('-p 70000');
    expect(() => sidecarIptablesFrom(['-b', '80,http'])).toThrow('"http" is not a port');
    expect(() => sidecarIptablesFrom(['--dry-run', '--cleanup'])).toThrow('exclude each other');
    expect(() => runSidecarCommand(['iptables', '-i', '10.0.0.0', '--dry-run'])).toThrow('-i: "10.0.0.0" is not a CIDR');
    expect(() => runSidecarCommand(['iptables', '-x', '*', '--dry-run'])).toThrow('-x: "*" would exclude every destination');
  });
});
