// Envoy's process-wide shared data (cpp-host SharedData): one key/value map per vm_id, each value
// with a CAS number. A set with cas != 0 must match the stored CAS or fails with CAS_MISMATCH. Every
// FilterVm loaded with the same HostProcess sees the same maps, as worker VMs in one Envoy do.
import { Status, type StatusCode } from './abi.ts';

export interface SharedValue {
  value: Uint8Array;
  cas: number;
}

export class SharedData {
  private readonly maps = new Map<string, Map<string, SharedValue>>();
  private nextCasValue = 1;

  get(vmId: string, key: string): SharedValue | undefined {
    return this.maps.get(vmId)?.get(key);
  }

  set(vmId: string, key: string, value: Uint8Array, cas: number): StatusCode {
    let map = this.maps.get(vmId);
    if (map === undefined) {
      map = new Map();
      this.maps.set(vmId, map);
    }
    const existing = map.get(key);
    if (existing !== undefined && cas !== 0 && cas !== existing.cas) return Status.CasMismatch;
    map.set(key, { value: value.slice(), cas: this.nextCas() });
    return Status.Ok;
  }

  keys(vmId: string): string[] {
    return [...(this.maps.get(vmId)?.keys() ?? [])];
  }

  private nextCas(): number {
    const cas = this.nextCasValue;
    this.nextCasValue = (this.nextCasValue + 1) >>> 0 || 1;
    return cas;
  }
}
