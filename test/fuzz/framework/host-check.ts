// Runs one fuzz case on the Wasm test host and checks it:
//  1. no trap;
//  2. the filter's decisions (access-log Request/Denied/Error entries, in order) line up with the
//     server model's framing of the client's bytes, and each verdict equals the control server's
//     reference verdict (decide.ts) for what the server would read; the filter closes wherever
//     the model says it must, and nowhere the model calls a normal request (over-strict);
//  3. what reached the server, framed by the server model, is exactly the allowed client frames in
//     order (byte for byte) plus the filter's probes: a denied or re-framed request never runs.
// A protocol whose filter does not log one entry per request frame brings its own checks 2 and 3
// (FuzzProtocol.checkHostCase).
import { loadFilter, type Chunking, type FilterVm, type HostConnection } from '../../../server/wasm-host/index.ts';
import { accessLog, ensureFiltersBuilt } from '../../filters/host-helpers.ts';
import { filterWasm } from '../../filters/envoy-harness.ts';
import type { FuzzPolicy, FuzzProtocol, ModelFrame } from './protocol.ts';
import type { FuzzClient } from './reference-policy.ts';

export interface HostCase {
  readonly protocol: FuzzProtocol;
  readonly policy: FuzzPolicy;
  readonly client: FuzzClient;
  readonly bytes: Uint8Array;
  readonly chunking: Chunking;
  /** The client half-closes after sending. */
  readonly clientFin: boolean;
}

export interface HostResult {
  /** Request frames the server model found in the client's bytes. */
  readonly frames: number;
  readonly violations: readonly string[];
  readonly filterClosed: boolean;
}

type Decision = 'Request' | 'Denied' | 'Error';

/** Filter VMs reused across cases: one per (protocol, policy, client) configuration. */
export class HostVms {
  private readonly vms = new Map<string, FilterVm>();

  vmFor(testCase: HostCase): FilterVm {
    const config = testCase.policy.reference.pluginConfig(testCase.client);
    const key = `${testCase.protocol.name}\u0000${config}`;
    let vm = this.vms.get(key);
    if (vm === undefined || vm.failed) {
      ensureFiltersBuilt(testCase.protocol.name);
      vm = loadFilter({ wasm: filterWasm(testCase.protocol.name), rootId: testCase.protocol.name, pluginConfig: config, failurePolicy: 'FAIL_CLOSED', upstream: () => testCase.protocol.fakeServer() });
      this.vms.set(key, vm);
    }
    return vm;
  }
}

export function runHostCase(vms: HostVms, testCase: HostCase): HostResult {
  const vm = vmFor(vms, testCase);
  const connection = vm.openConnection({ source: { address: testCase.client.ip, port: 40000 } });
  connection.fromClient(testCase.bytes, { chunking: testCase.chunking });
  if (testCase.clientFin) connection.closeFromClient();
  const violations: string[] = [];
  const reading = testCase.protocol.model.read(testCase.bytes);
  const decisions = decisionsOf(connection);
  if (testCase.protocol.checkHostCase !== undefined) violations.push(...testCase.protocol.checkHostCase(testCase, connection));
  else {
    checkDecisions(testCase, reading.frames, decisions, connection, violations);
    checkUpstream(testCase, reading.frames, decisions, connection, violations);
  }
  // an open connection keeps its context (and every record of it) alive in the VM
  if (connection.isOpen) connection.resetFromClient();
  for (const trap of vm.traps) violations.push(`trap in ${trap.callback}: ${trap.message}`);
  forget(vm);
  return { frames: reading.frames.length, violations, filterClosed: decisions.includes('Error') };
}

function vmFor(vms: HostVms, testCase: HostCase): FilterVm {
  return vms.vmFor(testCase);
}

function decisionsOf(connection: HostConnection): Decision[] {
  return accessLog(connection)
    .map((entry) => entry.type)
    .filter((type): type is Decision => type === 'Request' || type === 'Denied' || type === 'Error');
}

function checkDecisions(testCase: HostCase, frames: readonly ModelFrame[], decisions: readonly Decision[], connection: HostConnection, violations: string[]): void {
  const { policy, client } = testCase;
  for (let i = 0; i < decisions.length; i++) {
    const decision = decisions[i] as Decision;
    const frame = frames[i];
    if (frame === undefined) {
      // closing early on bytes that cannot become an acceptable request is always safe
      if (decision !== 'Error') violations.push(`the filter decided request #${i + 1} (${decision}) but the server would not have a complete request there yet`);
      return;
    }
    if (decision === 'Error') {
      if (frame.filterClose === 'never') violations.push(`over-strict: the filter closed the connection at request #${i + 1} (${frame.label}), which the server reads normally`);
      return;
    }
    if (frame.filterClose === 'must') {
      violations.push(`the filter ${decision === 'Request' ? 'passed' : 'denied'} request #${i + 1} (${frame.label}) but must close the connection there: the server frames it differently or closes`);
      return;
    }
    if (frame.request === undefined) continue;
    const expected = policy.reference.verdict(client, frame.request);
    const actual = decision === 'Request' ? 'allow' : 'deny';
    if (expected !== actual) violations.push(`request #${i + 1} (${frame.label}): the filter said ${actual}, the control server's reference says ${expected}`);
  }
  const complete = frames.filter((frame) => frame.end <= testCase.bytes.length).length;
  if (connection.isOpen && decisions.length < complete) {
    const frame = frames[decisions.length] as ModelFrame;
    violations.push(`request #${decisions.length + 1} (${frame.label}) is complete for the server but the filter has not decided it (it is waiting for other bytes)`);
  }
}

function checkUpstream(testCase: HostCase, clientFrames: readonly ModelFrame[], decisions: readonly Decision[], connection: HostConnection, violations: string[]): void {
  const upstream = connection.upstreamBytes;
  const reading = testCase.protocol.model.read(upstream);
  const allowed = clientFrames.filter((_, index) => decisions[index] === 'Request');
  let next = 0; // the next allowed client frame the server should see
  for (const frame of reading.frames) {
    const bytes = upstream.subarray(frame.start, frame.end);
    const expected = allowed[next];
    const matches = expected !== undefined && equalBytes(bytes, testCase.bytes.subarray(expected.start, expected.end));
    if (matches) {
      next++;
    } else if (!frame.isProbe) {
      violations.push(`the server would run ${frame.label} (bytes ${frame.start}..${frame.end} upstream), which is not a request the filter allowed${expected === undefined ? '' : ` (next allowed: ${expected.label})`}`);
      return;
    }
    if (frame.request !== undefined && !frame.isProbe && testCase.policy.reference.verdict(testCase.client, frame.request) !== 'allow') {
      violations.push(`the server would run ${frame.label}, which the policy denies to ${testCase.client.app}`);
    }
    if (frame.serverStops) return;
  }
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

// Keeps a long run's memory flat: the VM's records of finished connections are not needed again.
function forget(vm: FilterVm): void {
  vm.records.traps.length = 0;
  vm.records.logs.length = 0;
  vm.records.callbacks.length = 0;
  vm.connections.length = 0;
}
