// The entry point of the test host: loadFilter() plays one `envoy.filters.network.wasm` plugin on one
// Envoy worker. It owns the plugin's options, the current VM, the failure policy (FAIL_CLOSED,
// FAIL_OPEN, FAIL_RELOAD with Envoy's reload backoff), plugin-wide records (logs, traps, callbacks,
// metrics, gRPC exchanges) and opens connections. VM internals live in vm-instance.ts, connection
// behaviour in host-connection.ts.
import { readFileSync } from 'node:fs';
import { type LogLevelName, logLevelNames } from './abi.ts';
import type { CallbackRecord, LogRecord, TrapRecord } from './call-records.ts';
import type { Chunking } from './chunking.ts';
import { toBytes } from './envoy-buffer.ts';
import { type FakeUpstream, silentUpstream } from './fake-upstream.ts';
import { GrpcFake, type GrpcFakeOptions } from './grpc-fake.ts';
import { HostConnection } from './host-connection.ts';
import { HostProcess } from './host-process.ts';
import { MetricRegistry } from './metrics.ts';
import { readModuleInterface } from './module-interface.ts';
import { connectionProperties, type Endpoint, pluginProperties, type PropertyTable, type PropertyValue } from './properties.ts';
import { checkModuleInterface, FilterLoadError, VmInstance, type VmRecords } from './vm-instance.ts';

export type FailurePolicy = 'FAIL_CLOSED' | 'FAIL_OPEN' | 'FAIL_RELOAD';

export interface LoadFilterOptions {
  wasm: Uint8Array | string; // module bytes, or a path to a .wasm file
  pluginConfig?: Uint8Array | string; // raw bytes, as Envoy passes a StringValue/BytesValue
  vmConfig?: Uint8Array | string;
  pluginName?: string;
  rootId?: string;
  vmId?: string;
  failurePolicy?: FailurePolicy; // Envoy's default (UNSPECIFIED) is FAIL_CLOSED
  reloadBackoffMs?: number; // FAIL_RELOAD backoff; Envoy's default base_interval is 1000 ms
  logLevel?: LogLevelName; // what proxy_get_log_level answers; every line is recorded regardless
  node?: { id?: string; cluster?: string; metadata?: Record<string, string> };
  properties?: Record<string, PropertyValue>; // extra plugin-wide properties
  environment?: Record<string, string>; // VmConfig environment_variables, seen through WASI environ
  process?: HostProcess; // share one to let several filters meet in shared data/queues
  grpc?: GrpcFakeOptions;
  upstream?: () => FakeUpstream; // default server for each new connection
}

export interface OpenConnectionOptions {
  source?: Endpoint;
  destination?: Endpoint;
  properties?: Record<string, PropertyValue>;
  upstream?: FakeUpstream;
  upstreamChunking?: Chunking; // how the server's answers are cut into reads (default whole)
}

export interface ReloadStats {
  vmReloadSuccess: number;
  vmReloadFailure: number;
  vmReloadBackoff: number;
}

interface ResolvedOptions {
  failurePolicy: FailurePolicy;
  reloadBackoffMs: number;
  upstream: () => FakeUpstream;
}

export function loadFilter(options: LoadFilterOptions): FilterVm {
  return new FilterVm(options);
}

export class FilterVm {
  readonly process: HostProcess;
  readonly metrics = new MetricRegistry();
  readonly grpc: GrpcFake;
  readonly records: VmRecords = { callbacks: [], logs: [], traps: [] };
  readonly connections: HostConnection[] = [];
  readonly reloadStats: ReloadStats = { vmReloadSuccess: 0, vmReloadFailure: 0, vmReloadBackoff: 0 };
  private vmInstance: VmInstance;
  private lastLoadMs: number;
  private nextConnectionId = 1;
  private readonly module: WebAssembly.Module;
  private readonly policy: ResolvedOptions;
  private readonly buildVm: (generation: number) => VmInstance;

  constructor(options: LoadFilterOptions) {
    const binary = typeof options.wasm === 'string' ? new Uint8Array(readFileSync(options.wasm)) : options.wasm;
    const moduleInterface = readModuleInterface(binary);
    checkModuleInterface(moduleInterface);
    this.module = compile(binary);
    this.process = options.process ?? new HostProcess();
    this.grpc = new GrpcFake(options.grpc);
    this.policy = {
      failurePolicy: options.failurePolicy ?? 'FAIL_CLOSED',
      reloadBackoffMs: options.reloadBackoffMs ?? 1000,
      upstream: options.upstream ?? silentUpstream,
    };
    const identity = {
      pluginName: options.pluginName ?? 'weir-test',
      rootId: options.rootId ?? '',
      vmId: options.vmId ?? '',
      nodeId: options.node?.id,
      nodeCluster: options.node?.cluster,
      nodeMetadata: options.node?.metadata,
    };
    const properties = pluginProperties(identity, options.properties);
    const logLevel = logLevelNames.indexOf(options.logLevel ?? 'info');
    this.buildVm = (generation) =>
      VmInstance.load({
        module: this.module,
        moduleInterface,
        generation,
        vmId: identity.vmId,
        vmConfiguration: toBytes(options.vmConfig ?? new Uint8Array(0)),
        pluginConfiguration: toBytes(options.pluginConfig ?? new Uint8Array(0)),
        pluginProperties: properties,
        logLevel,
        environment: Object.entries(options.environment ?? {}),
        process: this.process,
        metrics: this.metrics,
        grpc: this.grpc,
        records: this.records,
      });
    this.vmInstance = this.buildVm(1);
    this.lastLoadMs = this.process.dispatcher.now;
  }

  // The VM new connections would use now (a reload replaces it).
  get vm(): VmInstance {
    return this.vmInstance;
  }

  get failed(): boolean {
    return this.vmInstance.failed;
  }

  // The current VM's linear memory in bytes: Wasm memory only grows, so this is its high-water mark.
  get memoryBytes(): number {
    return this.vmInstance.memory().byteLength;
  }

  get logs(): LogRecord[] {
    return this.records.logs;
  }

  get traps(): TrapRecord[] {
    return this.records.traps;
  }

  get callbacks(): CallbackRecord[] {
    return this.records.callbacks;
  }

  openConnection(options: OpenConnectionOptions = {}): HostConnection {
    const connectionId = this.nextConnectionId++;
    const source = options.source ?? { address: '127.0.0.1', port: 40000 + connectionId };
    const destination = options.destination ?? { address: '127.0.0.1', port: 10000 };
    const properties: PropertyTable = connectionProperties({ source, destination, connectionId, extra: options.properties });
    const connection = new HostConnection({
      connectionId,
      vm: this.vmForNewConnection(),
      dispatcher: this.process.dispatcher,
      properties,
      upstream: options.upstream ?? this.policy.upstream(),
      upstreamChunking: options.upstreamChunking ?? 'whole',
    });
    this.connections.push(connection);
    return connection;
  }

  advanceTime(milliseconds: number): void {
    this.process.advanceTime(milliseconds);
  }

  settle(): void {
    this.process.settle();
  }

  // Envoy's PluginConfig::createContext with maybeReloadHandleIfNeeded.
  private vmForNewConnection(): VmInstance | undefined {
    const vm = this.vmInstance;
    if (!vm.failed) return vm;
    if (this.policy.failurePolicy === 'FAIL_OPEN') return undefined;
    if (this.policy.failurePolicy === 'FAIL_CLOSED') return vm;
    const now = this.process.dispatcher.now;
    if (now - this.lastLoadMs < this.policy.reloadBackoffMs) {
      this.reloadStats.vmReloadBackoff++;
      return vm;
    }
    this.lastLoadMs = now;
    try {
      this.vmInstance = this.buildVm(vm.generation + 1);
      this.reloadStats.vmReloadSuccess++;
    } catch (error) {
      if (!(error instanceof FilterLoadError)) throw error;
      this.reloadStats.vmReloadFailure++;
    }
    return this.vmInstance;
  }
}

function compile(binary: Uint8Array): WebAssembly.Module {
  try {
    return new WebAssembly.Module(new Uint8Array(binary));
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    throw new FilterLoadError('link', `the filter module does not compile: ${message}`);
  }
}
