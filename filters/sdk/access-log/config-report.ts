// Tells the Weir agent how a plugin configuration went, when weir serve cannot see it otherwise:
// inside Istio's sidecars istiod, not weir serve, hears Envoy's ACK or NACK of a WasmPlugin, so a
// parser in a VM with the empty vm_id (Istio's: a WasmPlugin cannot set one) sends one queue entry
// per configuration, an AccessLogEntry with only its time and `plugin_config` (plugin name,
// configured or rejected, reason), and the server keeps the latest per node and plugin for
// `weir status` (docs/istio.md). Sent at once: a rejected configuration's root context never
// ticks. Under Weir's own bootstrap (vm_id `weir...`) nothing is sent: weir serve gets Envoy's
// NACKs itself.
import { WirePluginConfigState, encodePluginConfigEntry } from './entry-protobuf';
import { beginAccessLogEntry, endAccessLogEntry, flushAccessLogNow } from './access-log-queue';
import { nowNanoseconds, propertyBytes, propertyString } from '../abi/host';

export const enum PluginConfigOutcome {
  Configured = 0,
  Rejected = 1,
}

export function reportPluginConfiguration(outcome: PluginConfigOutcome, reason: string): void {
  const vmId = propertyBytes('plugin_vm_id');
  if (vmId === null || vmId.byteLength != 0) return;
  const state = outcome == PluginConfigOutcome.Configured ? WirePluginConfigState.Configured : WirePluginConfigState.Rejected;
  encodePluginConfigEntry(beginAccessLogEntry(), nowNanoseconds(), propertyString('plugin_name', ''), state, reason);
  endAccessLogEntry();
  flushAccessLogNow();
}
