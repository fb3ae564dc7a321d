// What parsers inside Istio's sidecars report about their plugin configurations
// (filters/sdk/access-log/config-report.ts): a WasmPlugin's pluginConfig that the parser refused,
// which Envoy NACKs to istiod and weir serve would otherwise never hear of. They ride the
// access-log stream as entries with `plugin_config` set (protos/weir/accesslog.proto); this module
// reads them and keeps the latest report per node and plugin, which `weir status` shows beside the
// proxy's own NACKs. Owns no stream and no records.
import type { AccessLogEntryMessage } from './access-log-record.ts';

export interface PluginConfigReport {
  /** Envoy's plugin name: Istio's `<namespace>.<name>` (WasmPlugins carry a `~istio-translated-wasmplugin` suffix). */
  readonly plugin: string;
  readonly state: 'configured' | 'rejected';
  readonly reason: string;
  readonly timeUnixNano: string;
}

/** The report an entry carries, or undefined when it is an ordinary access-log entry. */
export function pluginConfigReportOf(message: AccessLogEntryMessage): PluginConfigReport | undefined {
  const report = message.plugin_config;
  if (report === undefined || report === null) return undefined;
  const state = report.state === 'PLUGIN_CONFIG_STATE_REJECTED' || report.state === 1 ? 'rejected' : 'configured';
  return { plugin: report.plugin ?? '', state, reason: report.reason ?? '', timeUnixNano: String(message.time_unix_nano ?? 0) };
}

/** The latest report per node and plugin. */
export class PluginConfigReports {
  readonly #byNode = new Map<string, Map<string, PluginConfigReport>>();

  record(nodeId: string, report: PluginConfigReport): void {
    let plugins = this.#byNode.get(nodeId);
    if (plugins === undefined) {
      plugins = new Map();
      this.#byNode.set(nodeId, plugins);
    }
    const previous = plugins.get(report.plugin);
    // Workers report one configuration several times, in any order: the newest wins.
    if (previous !== undefined && BigInt(previous.timeUnixNano) > BigInt(report.timeUnixNano)) return;
    plugins.set(report.plugin, report);
  }

  /** The plugins whose latest configuration `nodeId`'s parsers refused, by plugin name. */
  rejected(nodeId: string): PluginConfigReport[] {
    return [...(this.#byNode.get(nodeId)?.values() ?? [])].filter((report) => report.state === 'rejected').sort((a, b) => (a.plugin < b.plugin ? -1 : 1));
  }
}
