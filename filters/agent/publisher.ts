// Writes what the agent accepted into Wasm shared data for the parser VMs (vm_id `weir`; layout in
// filters/sdk/policy-shared-data.ts and docs/policy-wire.md): `weir/policy/<endpoint>` and
// `weir/revision/<endpoint>` per endpoint, `weir/identities`, then bumps `weir/generation` once the publish is complete. Endpoints that
// disappeared are emptied (shared data has no delete), and rings the VMs that asked to be told of
// each bump (generation-push.ts). Remembers which endpoints it published.
import { LogLevel } from '../sdk/abi/imports';
import { logText } from '../sdk/abi/host';
import { IDENTITIES_KEY, policyKey, readGeneration, revisionKey, writeGeneration, writeSharedData } from '../sdk/policy/policy-shared-data';
import { createGenerationSubscribers, ringGenerationSubscribers } from '../sdk/policy/generation-push';
import { IdentityUpdate, PolicyUpdate } from './weir-resources';

export class PolicyPublisher {
  private published: Array<string> = new Array<string>();
  // Continues from what is already there, so a restarted agent never moves the counter back.
  private generation: u64 = readGeneration();

  constructor() {
    createGenerationSubscribers();
  }

  publishPolicies(update: PolicyUpdate): void {
    const current = new Array<string>();
    for (let i = 0; i < update.policies.length; i++) {
      const policy = update.policies[i];
      this.write(policyKey(policy.endpoint), policy.compiled);
      this.write(revisionKey(policy.endpoint), String.UTF8.encode(policy.revision));
      current.push(policy.endpoint);
    }
    for (let i = 0; i < this.published.length; i++) {
      const endpoint = this.published[i];
      if (current.includes(endpoint)) continue;
      this.write(policyKey(endpoint), new ArrayBuffer(0));
      this.write(revisionKey(endpoint), new ArrayBuffer(0));
    }
    this.published = current;
    this.bump();
  }

  publishIdentities(update: IdentityUpdate): void {
    this.write(IDENTITIES_KEY, update.compiled);
    this.bump();
  }

  // Every tick: confirms to VMs that subscribed since that the agent pushes them the generation.
  onTick(): void {
    ringGenerationSubscribers(this.generation, true);
  }

  get currentGeneration(): u64 {
    return this.generation;
  }

  private write(key: string, value: ArrayBuffer): void {
    if (!writeSharedData(key, value)) logText(LogLevel.Error, 'weir agent: Envoy refused to store shared data ' + key + ' (' + value.byteLength.toString() + ' bytes); parsers keep the previous value');
  }

  private bump(): void {
    this.generation++;
    if (!writeGeneration(this.generation)) logText(LogLevel.Error, 'weir agent: Envoy refused to store weir/generation; parsers will not see the new policy');
    // Before the ACK: the subscribers' wake-ups are posted to their threads before it leaves.
    ringGenerationSubscribers(this.generation, false);
  }
}
