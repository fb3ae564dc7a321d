// One instantiated filter VM, as one Envoy worker holds it: links the module against the host
// functions (refusing modules Envoy would refuse), runs the VM start and configure sequence, invokes
// callbacks with trap detection, keeps the after-call actions Envoy defers until a callback returns,
// and serves the host functions' view of the active context. Connection behaviour lives in
// host-connection.ts; failure policies and reloads in filter-vm.ts.
import {
  abiVersionExports,
  BufferType,
  type CallbackName,
  callbackSignatures,
  formatSignature,
  logLevelNames,
  MapType,
  proxyHostSignatures,
  sameSignature,
  Status,
  type StatusCode,
  StreamType,
  unsupportedAbiVersionExports,
  wasiModuleNames,
  wasiSignatures,
} from './abi.ts';
import type { CallbackRecord, LogRecord, TrapRecord } from './call-records.ts';
import { EnvoyBuffer } from './envoy-buffer.ts';
import type { GrpcDelivery, GrpcFake } from './grpc-fake.ts';
import { GuestMemory } from './guest-memory.ts';
import { createProxyHostFunctions, type HostFunction, type ProxyHostBackend } from './host-functions.ts';
import type { HostProcess } from './host-process.ts';
import type { MetricRegistry } from './metrics.ts';
import type { ModuleInterface } from './module-interface.ts';
import type { PropertyTable } from './properties.ts';
import type { Pairs } from './serialized-map.ts';
import type { SharedData } from './shared-data.ts';
import type { QueueConsumer, SharedQueues } from './shared-queues.ts';
import { createWasiFunctions } from './wasi.ts';

// What a connection offers the VM while its context is active (implemented by HostConnection).
export interface StreamContextHost {
  readonly contextId: number;
  downstreamDataBuffer(): EnvoyBuffer | undefined; // undefined: Envoy's empty stand-in
  upstreamDataBuffer(): EnvoyBuffer | undefined;
  property(path: string): Uint8Array | undefined;
  setFilterState(path: string, value: Uint8Array): void;
  continueReading(): void; // run as an after-call action
  closeFromFilter(details: 'wasm_downstream_close' | 'wasm_upstream_close'): void; // after-call action
  recordCallback(record: CallbackRecord): void;
  recordLog(record: LogRecord): void;
}

export interface VmRecords {
  callbacks: CallbackRecord[];
  logs: LogRecord[];
  traps: TrapRecord[];
}

export interface VmInstanceOptions {
  module: WebAssembly.Module;
  moduleInterface: ModuleInterface;
  generation: number;
  vmId: string;
  vmConfiguration: Uint8Array;
  pluginConfiguration: Uint8Array;
  pluginProperties: PropertyTable;
  logLevel: number;
  environment: ReadonlyArray<readonly [string, string]>;
  process: HostProcess;
  metrics: MetricRegistry;
  grpc: GrpcFake;
  records: VmRecords;
}

export type LoadStage = 'link' | 'instantiate' | 'start' | 'configure';

export class FilterLoadError extends Error {
  constructor(
    readonly stage: LoadStage,
    message: string,
    readonly logs: LogRecord[] = [],
  ) {
    super(message);
    this.name = 'FilterLoadError';
  }
}

export type InvokeOutcome = { kind: 'missing' } | { kind: 'returned'; value: number } | { kind: 'trapped' };

type ExportedFunction = (...args: number[]) => unknown;

export const rootContextId = 1;

export class VmInstance implements ProxyHostBackend, QueueConsumer, GrpcDelivery {
  readonly generation: number;
  readonly vmId: string;
  readonly logLevel: number;
  readonly sharedData: SharedData;
  readonly sharedQueues: SharedQueues;
  readonly metrics: MetricRegistry;
  readonly grpc: GrpcFake;
  failure: TrapRecord | undefined;
  private readonly streams = new Map<number, StreamContextHost>();
  private readonly afterCallActions: Array<() => void> = [];
  private readonly exportsByName: Record<string, unknown>;
  private guestMemory: GuestMemory | undefined;
  private nextContextId = rootContextId + 1;
  private currentContextId = 0;
  private effectiveContextId = 0;
  private currentRecord: CallbackRecord | undefined;
  private configuring = false;
  private tickTimer: number | undefined;
  private grpcMessage: Uint8Array | undefined;
  private grpcMetadataInFlight: { mapType: number; pairs: Pairs } | undefined;
  private grpcStatusInFlight: { code: number; message: Uint8Array } | undefined;

  private constructor(private readonly options: VmInstanceOptions) {
    this.generation = options.generation;
    this.vmId = options.vmId;
    this.logLevel = options.logLevel;
    this.sharedData = options.process.sharedData;
    this.sharedQueues = options.process.sharedQueues;
    this.metrics = options.metrics;
    this.grpc = options.grpc;
    this.exportsByName = {};
  }

  // Links, instantiates, starts and configures a VM; throws FilterLoadError on the first failure.
  static load(options: VmInstanceOptions): VmInstance {
    checkModuleInterface(options.moduleInterface);
    const vm = new VmInstance(options);
    vm.instantiate();
    options.grpc.attach(vm); // before start: the VM may open gRPC streams in proxy_on_vm_start
    vm.start();
    vm.configure();
    return vm;
  }

  get failed(): boolean {
    return this.failure !== undefined;
  }

  has(name: CallbackName): boolean {
    return typeof this.exportsByName[name] === 'function';
  }

  allocateContextId(): number {
    return this.nextContextId++;
  }

  attachStream(stream: StreamContextHost): void {
    this.streams.set(stream.contextId, stream);
  }

  detachStream(contextId: number): void {
    this.streams.delete(contextId);
  }

  // Calls one exported callback with `contextId` current. Traps mark the VM failed and are reported
  // as an outcome; any other exception is a host bug and propagates.
  invoke(name: CallbackName, contextId: number, args: number[]): InvokeOutcome {
    const fn = this.exportsByName[name];
    if (typeof fn !== 'function') return { kind: 'missing' };
    const record: CallbackRecord = {
      callback: name,
      contextId,
      args,
      result: undefined,
      trap: undefined,
      hostCalls: [],
      vmGeneration: this.generation,
    };
    this.options.records.callbacks.push(record);
    this.streams.get(contextId)?.recordCallback(record);
    const saved = { context: this.currentContextId, effective: this.effectiveContextId, record: this.currentRecord };
    this.currentContextId = contextId;
    this.effectiveContextId = 0;
    this.currentRecord = record;
    try {
      const value = (fn as ExportedFunction)(...args);
      record.result = typeof value === 'number' ? value : undefined;
      return { kind: 'returned', value: record.result ?? 0 };
    } catch (error) {
      if (!isTrap(error)) throw error;
      record.trap = error.message;
      this.markFailed(name, contextId, error);
      return { kind: 'trapped' };
    } finally {
      this.currentContextId = saved.context;
      this.effectiveContextId = saved.effective;
      this.currentRecord = saved.record;
    }
  }

  // Envoy's DeferAfterCallActions: run `body` (the callback and its failure check), then every
  // action the callback deferred (proxy_close_stream, proxy_continue_stream).
  withAfterCallActions<T>(body: () => T): T {
    try {
      return body();
    } finally {
      for (let action = this.afterCallActions.shift(); action !== undefined; action = this.afterCallActions.shift()) action();
    }
  }

  // A root-context callback as cpp-host makes it: skipped once the VM failed.
  invokeOnRoot(name: CallbackName, args: number[]): void {
    if (this.failed || !this.has(name)) return;
    this.withAfterCallActions(() => this.invoke(name, rootContextId, [rootContextId, ...args]));
  }

  // ---- ProxyHostBackend: the host functions' view of the active context ----

  memory(): GuestMemory {
    if (this.guestMemory === undefined) throw new Error('vm-instance.ts: host function called before memory was linked');
    return this.guestMemory;
  }

  log(level: number, message: string): void {
    this.recordLog(level, message, 'filter');
  }

  buffer(type: number): EnvoyBuffer | undefined {
    const stream = this.activeStream();
    switch (type) {
      case BufferType.DownstreamData:
        return stream?.downstreamDataBuffer() ?? new EnvoyBuffer();
      case BufferType.UpstreamData:
        return stream?.upstreamDataBuffer() ?? new EnvoyBuffer();
      case BufferType.VmConfiguration:
        return new EnvoyBuffer(this.options.vmConfiguration);
      case BufferType.PluginConfiguration:
        return this.configuring ? new EnvoyBuffer(this.options.pluginConfiguration) : undefined;
      case BufferType.GrpcCallMessage:
        return new EnvoyBuffer(this.grpcMessage ?? new Uint8Array(0));
      case BufferType.HttpCallResponseBody:
        return undefined;
      default:
        return new EnvoyBuffer();
    }
  }

  property(path: string): Uint8Array | undefined {
    return this.options.pluginProperties.get(path) ?? this.activeStream()?.property(path);
  }

  setProperty(path: string, value: Uint8Array): StatusCode {
    const stream = this.activeStream();
    if (stream === undefined) return Status.NotFound;
    stream.setFilterState(path, value);
    return Status.Ok;
  }

  continueStream(streamType: number): StatusCode {
    if (streamType === StreamType.Upstream) return Status.Unimplemented;
    const stream = this.activeStream();
    if (streamType === StreamType.Downstream && stream !== undefined) {
      this.afterCallActions.push(() => stream.continueReading());
    }
    return Status.Ok;
  }

  closeStream(streamType: number): StatusCode {
    const stream = this.activeStream();
    if (stream !== undefined && (streamType === StreamType.Downstream || streamType === StreamType.Upstream)) {
      const details = streamType === StreamType.Downstream ? 'wasm_downstream_close' : 'wasm_upstream_close';
      this.afterCallActions.push(() => stream.closeFromFilter(details));
    }
    return Status.Ok;
  }

  setEffectiveContext(contextId: number): boolean {
    if (contextId !== 0 && contextId !== rootContextId && !this.streams.has(contextId)) return false;
    this.effectiveContextId = contextId;
    return true;
  }

  setTickPeriod(milliseconds: number): void {
    const dispatcher = this.options.process.dispatcher;
    if (this.tickTimer !== undefined) dispatcher.cancel(this.tickTimer);
    this.tickTimer = undefined;
    if (milliseconds === 0) return;
    const fire = (): void => {
      this.tickTimer = dispatcher.schedule(milliseconds, fire);
      this.invokeOnRoot('proxy_on_tick', []);
    };
    this.tickTimer = dispatcher.schedule(milliseconds, fire);
  }

  nowNanoseconds(): bigint {
    return BigInt(this.options.process.dispatcher.now) * 1_000_000n;
  }

  registerQueue(name: string): number {
    return this.sharedQueues.register(this.vmId, name, this, rootContextId);
  }

  grpcStatus(): { code: number; message: Uint8Array } {
    return this.grpcStatusInFlight ?? { code: 0, message: new Uint8Array(0) };
  }

  grpcMetadata(mapType: number): Pairs | undefined {
    if (mapType !== MapType.GrpcReceiveInitialMetadata && mapType !== MapType.GrpcReceiveTrailingMetadata) return undefined;
    const inFlight = this.grpcMetadataInFlight;
    return inFlight !== undefined && inFlight.mapType === mapType ? inFlight.pairs : [];
  }

  // ---- QueueConsumer and GrpcDelivery: events the dispatcher delivers to the root context ----

  notifyQueueReady(contextId: number, token: number): void {
    if (contextId === rootContextId) this.invokeOnRoot('proxy_on_queue_ready', [token]);
  }

  initialMetadata(token: number, metadata: Pairs): void {
    this.options.process.dispatcher.post(() => {
      this.grpcMetadataInFlight = { mapType: MapType.GrpcReceiveInitialMetadata, pairs: metadata };
      this.invokeOnRoot('proxy_on_grpc_receive_initial_metadata', [token, metadata.length]);
      this.grpcMetadataInFlight = undefined;
    });
  }

  message(token: number, message: Uint8Array): void {
    this.options.process.dispatcher.post(() => {
      this.grpcMessage = message;
      this.invokeOnRoot('proxy_on_grpc_receive', [token, message.length]);
      this.grpcMessage = undefined;
    });
  }

  trailingMetadata(token: number, metadata: Pairs): void {
    this.options.process.dispatcher.post(() => {
      this.grpcMetadataInFlight = { mapType: MapType.GrpcReceiveTrailingMetadata, pairs: metadata };
      this.invokeOnRoot('proxy_on_grpc_receive_trailing_metadata', [token, metadata.length]);
      this.grpcMetadataInFlight = undefined;
    });
  }

  close(token: number, status: number, message: string): void {
    this.options.process.dispatcher.post(() => {
      this.grpcStatusInFlight = { code: status, message: new TextEncoder().encode(message) };
      this.invokeOnRoot('proxy_on_grpc_close', [token, status]);
      this.grpcStatusInFlight = undefined;
    });
  }

  // ---- lifecycle ----

  private instantiate(): void {
    const imports = this.buildImports();
    let instance: WebAssembly.Instance;
    try {
      instance = new WebAssembly.Instance(this.options.module, imports);
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      throw new FilterLoadError('instantiate', `instantiating the filter module failed: ${message}`, this.options.records.logs);
    }
    Object.assign(this.exportsByName, instance.exports);
    const memory = instance.exports.memory;
    if (!(memory instanceof WebAssembly.Memory)) {
      throw new FilterLoadError('link', 'the filter module exports no memory named "memory"; Envoy cannot use it');
    }
    const allocator = (this.exportsByName.malloc ?? this.exportsByName.proxy_on_memory_allocate) as ExportedFunction;
    this.guestMemory = new GuestMemory(memory, (size) => Number(allocator(size)));
  }

  private start(): void {
    const initialize = this.has('_initialize') ? '_initialize' : this.has('_start') ? '_start' : undefined;
    if (initialize !== undefined) {
      this.invokeOrFail(initialize, 0, [], 'start');
      if (initialize === '_initialize' && this.has('main')) this.invokeOrFail('main', 0, [0, 0], 'start');
    }
    if (this.has('proxy_on_context_create')) this.invokeOrFail('proxy_on_context_create', rootContextId, [rootContextId, 0], 'start');
    if (this.has('proxy_on_vm_start')) {
      const started = this.invokeOrFail('proxy_on_vm_start', rootContextId, [rootContextId, this.options.vmConfiguration.length], 'start');
      if (started === 0) throw new FilterLoadError('start', 'proxy_on_vm_start returned false: Envoy reports "Failed to start base Wasm"', this.options.records.logs);
    }
  }

  private configure(): void {
    if (!this.has('proxy_on_configure')) return;
    this.configuring = true;
    try {
      const configured = this.invokeOrFail('proxy_on_configure', rootContextId, [rootContextId, this.options.pluginConfiguration.length], 'configure');
      if (configured === 0) {
        throw new FilterLoadError(
          'configure',
          'proxy_on_configure returned false: Envoy rejects this plugin configuration (NACK over xDS, startup failure in a static config)',
          this.options.records.logs,
        );
      }
    } finally {
      this.configuring = false;
    }
  }

  private invokeOrFail(name: CallbackName, contextId: number, args: number[], stage: LoadStage): number {
    const outcome = this.withAfterCallActions(() => this.invoke(name, contextId, args));
    if (outcome.kind === 'trapped') {
      throw new FilterLoadError(stage, `${name} trapped while loading the VM: ${this.failure?.message ?? ''}`, this.options.records.logs);
    }
    return outcome.kind === 'returned' ? outcome.value : 1;
  }

  private buildImports(): WebAssembly.Imports {
    const proxy = this.recorded(createProxyHostFunctions(this));
    const wasi = this.recorded(
      createWasiFunctions({
        memory: () => this.memory(),
        log: (level, message) => this.recordLog(level, message, 'filter'),
        hostLog: (level, message) => this.recordLog(level, message, 'host'),
        nowNanoseconds: () => this.nowNanoseconds(),
        environment: this.options.environment,
      }),
    );
    const imports: WebAssembly.Imports = { env: proxy };
    for (const moduleName of wasiModuleNames) imports[moduleName] = wasi;
    return imports;
  }

  private recorded(functions: Record<string, HostFunction>): Record<string, HostFunction> {
    const wrapped: Record<string, HostFunction> = {};
    for (const [name, fn] of Object.entries(functions)) {
      wrapped[name] = (...args) => {
        const status = fn(...args);
        this.currentRecord?.hostCalls.push({
          name,
          args: args.map((arg) => (typeof arg === 'number' ? arg >>> 0 : arg)),
          status: name === 'proc_exit' ? undefined : status,
        });
        return status;
      };
    }
    return wrapped;
  }

  private activeStream(): StreamContextHost | undefined {
    const id = this.effectiveContextId !== 0 ? this.effectiveContextId : this.currentContextId;
    return this.streams.get(id);
  }

  private recordLog(level: number, message: string, source: LogRecord['source']): void {
    const effective = this.effectiveContextId !== 0 ? this.effectiveContextId : this.currentContextId;
    const record: LogRecord = {
      level: logLevelNames[level] ?? 'critical',
      message,
      contextId: effective,
      callback: this.currentRecord?.callback,
      source,
    };
    this.options.records.logs.push(record);
    this.streams.get(effective)?.recordLog(record);
  }

  private markFailed(callback: CallbackName, contextId: number, error: Error): void {
    const trap: TrapRecord = { callback, contextId, message: error.message, stack: error.stack, vmGeneration: this.generation };
    this.failure ??= trap;
    this.options.records.traps.push(trap);
    if (this.tickTimer !== undefined) this.options.process.dispatcher.cancel(this.tickTimer);
    this.recordLog(4, `Function: ${callback} failed: Uncaught RuntimeError: ${error.message}`, 'host');
  }
}

function isTrap(error: unknown): error is Error {
  if (error instanceof WebAssembly.RuntimeError) return true;
  // V8 reports Wasm stack exhaustion as a RangeError; in Envoy it is a trap like any other.
  return error instanceof RangeError && /call stack/i.test(error.message);
}

// Refuses, as Envoy 1.40 does, a module with an unknown ABI version, no allocator, an import the host
// does not provide (every one is named) or a callback with the wrong signature.
export function checkModuleInterface(moduleInterface: ModuleInterface): void {
  const exported = new Map(moduleInterface.exports.map((entry) => [entry.name, entry]));
  if (unsupportedAbiVersionExports.some((name) => exported.has(name))) {
    throw new FilterLoadError('link', 'the module uses Proxy-Wasm ABI 0.1.0; Envoy would load it but this test host supports only 0.2.0 and 0.2.1');
  }
  if (!abiVersionExports.some((name) => exported.has(name))) {
    throw new FilterLoadError('link', 'Missing or unknown Proxy-Wasm ABI version: export proxy_abi_version_0_2_1 (an empty function)');
  }
  if (!exported.has('malloc') && !exported.has('proxy_on_memory_allocate')) {
    throw new FilterLoadError('link', 'Wasm module is missing malloc function: export proxy_on_memory_allocate(size: i32) -> i32');
  }
  const problems = [...importProblems(moduleInterface), ...callbackProblems(exported)];
  if (problems.length > 0) {
    throw new FilterLoadError('link', `Envoy would refuse this module: ${problems.join('; ')}`);
  }
}

function importProblems(moduleInterface: ModuleInterface): string[] {
  const problems: string[] = [];
  for (const entry of moduleInterface.imports) {
    const qualified = `${entry.module}.${entry.name}`;
    const table =
      entry.module === 'env' ? proxyHostSignatures : (wasiModuleNames as readonly string[]).includes(entry.module) ? wasiSignatures : undefined;
    const expected = table?.[entry.name];
    if (entry.kind !== 'function' || expected === undefined) {
      problems.push(`missing import ${qualified} (${entry.kind}); the host provides only Proxy-Wasm 0.2.x and WASI functions`);
    } else if (entry.signature !== undefined && !sameSignature(entry.signature, expected)) {
      problems.push(`import type mismatch for ${qualified}: module declares ${formatSignature(entry.signature)}, host has ${formatSignature(expected)}`);
    }
  }
  return problems;
}

function callbackProblems(exported: Map<string, ModuleInterface['exports'][number]>): string[] {
  const problems: string[] = [];
  for (const [name, expected] of Object.entries(callbackSignatures)) {
    const signature = exported.get(name)?.signature;
    if (signature !== undefined && !sameSignature(signature, expected)) {
      problems.push(`Bad function signature for: ${name}: module exports ${formatSignature(signature)}, host calls ${formatSignature(expected)}`);
    }
  }
  return problems;
}
