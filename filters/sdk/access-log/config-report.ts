// Tells the Weir agent how a plugin configuration went, when weir serve cannot see it otherwise:
// inside Istio's sidecars istiod, not weir serve, hears Envoy's ACK or NACK of a WasmPlugin, so a
// parser in a VM with the empty vm_id (Istio's: a WasmPlugin cannot set one) sends one queue entry
// per configuration, `{"time":..,"plugin":{"name":..,"state":"configured"|"rejected","reason":..}}`,
// and the server keeps the latest per node and plugin for `weir status` (docs/istio.md). Sent at
// once: a rejected configuration's root context never ticks. Under Weir's own bootstrap (vm_id
// `weir...`) nothing is sent: weir serve gets Envoy's NACKs itself.
import { appendJsonString } from './access-log';
import { beginAccessLogEntry, endAccessLogEntry, flushAccessLogNow } from './access-log-queue';
import { nowNanoseconds, propertyBytes, propertyString } from '../abi/host';

export function reportPluginConfiguration(accepted: bool, reason: string): void {
  const vmId = propertyBytes('plugin_vm_id');
  if (vmId === null || vmId.byteLength != 0) return;
  const entry = beginAccessLogEntry();
  entry.appendAscii('{"time":');
  entry.appendAscii(nowNanoseconds().toString());
  entry.appendAscii(',"plugin":{"name":');
  appendJsonString(entry, propertyString('plugin_name', ''));
  entry.appendAscii(accepted ? ',"state":"configured","reason":' : ',"state":"rejected","reason":');
  appendJsonString(entry, reason);
  entry.appendAscii('}}');
  endAccessLogEntry();
  flushAccessLogNow();
}
