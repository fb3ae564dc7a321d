// What parsers inside Istio's sidecars report about their plugin configurations (filters/sdk/
// config-report.ts): a WasmPlugin's pluginConfig that the parser refused, which Envoy NACKs to
// istiod and weir serve would otherwise never hear of. They ride the access-log stream as entries
// with a `plugin` member; this module reads them and keeps the latest report per node and plugin,
// which `weir status` shows beside the proxy's own NACKs. Owns no stream and no records.
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
  if (message.parser_json === undefined || message.parser_json.length === 0) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(message.parser_json).toString('utf8'));
  } catch {
    return undefined; // recordFromMessage reports it
  }
  if (typeof value !== 'object' || value === null) return undefined;
  const { plugin, time } = value as { plugin?: unknown; time?: unknown };
  if (typeof plugin !== 'object' || plugin === null) return undefined;
  const { name, state, reason } = plugin as Record<string, unknown>;
  if (typeof name !== 'string' || (state !== 'configured' && state !== 'rejected')) return undefined;
  return { plugin: name, state, reason: typeof reason === 'string' ? reason : '', timeUnixNano: String(typeof time === 'number' || typeof time === 'string' ? time : 0) };
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
