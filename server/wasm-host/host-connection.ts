// One downstream connection through `envoy.filters.network.wasm` followed by tcp_proxy, with Envoy
// 1.40's order of events: context creation and proxy_on_new_connection on accept; the read buffer
// that keeps paused bytes so the next proxy_on_downstream_data sees old+new; the write path that
// runs proxy_on_upstream_data on what tcp_proxy writes to the client; deferred close with
// FlushWrite; close events in Envoy's order (downstream close -> done -> log -> delete); and
// fail-closed handling of a failed VM. It also records what reached each side, for tests.
import { FilterAction, PeerType, type PeerTypeCode } from './abi.ts';
import type { CallbackRecord, LogRecord } from './call-records.ts';
import { countHostCalls } from './call-records.ts';
import { type Chunking, chunk } from './chunking.ts';
import type { Dispatcher } from './dispatcher.ts';
import { concatBytes, EnvoyBuffer, toBytes, toLatin1 } from './envoy-buffer.ts';
import type { FakeUpstream, UpstreamPeer } from './fake-upstream.ts';
import type { PropertyTable } from './properties.ts';
import { rootContextId, type StreamContextHost, type VmInstance } from './vm-instance.ts';

export type CloseReason =
  | 'wasm_downstream_close' // the filter called proxy_close_stream(DOWNSTREAM)
  | 'wasm_upstream_close' // the filter called proxy_close_stream(UPSTREAM)
  | 'wasm_vm_failed' // the VM trapped (now or earlier): Envoy fails the stream closed
  | 'client_reset' // the client reset the connection
  | 'upstream_reset' // the server reset; tcp_proxy closes the downstream side
  | 'half_close_complete'; // both directions ended with FIN

export interface ConnectionClose {
  reason: CloseReason;
  peer: 'local' | 'remote'; // the peer_type proxy_on_downstream_connection_close received
  details: string | undefined; // Envoy's connection termination details, if any
}

export interface SendOptions {
  chunking?: Chunking;
  // 'settle' (default): each chunk is handled, with every reply it causes, before the next one
  // arrives. 'burst': all chunks are queued first, so replies interleave after them.
  pacing?: 'settle' | 'burst';
}

type Status = typeof FilterAction.Continue | typeof FilterAction.Pause;

export interface HostConnectionInit {
  connectionId: number;
  vm: VmInstance | undefined; // undefined: the filter was skipped (FAIL_OPEN on a failed VM)
  dispatcher: Dispatcher;
  properties: PropertyTable;
  upstream: FakeUpstream;
  upstreamChunking: Chunking;
}

export class HostConnection implements StreamContextHost {
  readonly connectionId: number;
  readonly contextId: number;
  readonly vm: VmInstance | undefined;
  // Every chunk tcp_proxy forwarded to the server, and every chunk written to the client.
  readonly upstreamChunks: Uint8Array[] = [];
  readonly clientChunks: Uint8Array[] = [];
  readonly callbacks: CallbackRecord[] = [];
  readonly logs: LogRecord[] = [];
  readonly filterState = new Map<string, Uint8Array>();
  closed: ConnectionClose | undefined;
  upstreamGotEnd = false; // the client's FIN reached the server
  clientGotEnd = false; // the server's FIN reached the client
  upstreamClosed = false; // tcp_proxy closed the upstream connection

  private readonly dispatcher: Dispatcher;
  private readonly properties: PropertyTable;
  private readonly upstream: FakeUpstream;
  private readonly upstreamChunking: Chunking;
  private readonly readBuffer = new EnvoyBuffer(); // the downstream connection's read buffer
  private readonly upstreamReadBuffer = new EnvoyBuffer(); // the upstream connection's read buffer
  private readonly unreadFromClient: Uint8Array[] = []; // kernel-buffered while reads are disabled
  private readEnd = false;
  private readEndUnread = false;
  private writeEnd = false;
  private downstreamBound = false; // Envoy's network_downstream_data_buffer_ is set
  private upstreamBound = false; // Envoy's network_upstream_data_buffer_ is set
  private inVmContextCreated = false;
  private streamFailed = false;
  private tcpClosed = false;
  private downstreamClosedSeen = false;
  private tcpProxy: 'idle' | 'connecting' | 'connected' = 'idle';
  private upstreamFinSent = false;

  constructor(init: HostConnectionInit) {
    this.connectionId = init.connectionId;
    this.vm = init.vm;
    this.contextId = init.vm?.allocateContextId() ?? 0;
    this.dispatcher = init.dispatcher;
    this.properties = init.properties;
    this.upstream = init.upstream;
    this.upstreamChunking = init.upstreamChunking;
    init.vm?.attachStream(this);
    this.dispatcher.post(() => this.accept());
    this.dispatcher.drain();
  }

  // ---- the test's side: client and server actions ----

  fromClient(bytes: Uint8Array | string, options: SendOptions = {}): this {
    this.deliver(chunk(bytes, options.chunking), options.pacing, (piece) => this.clientRead(piece));
    return this;
  }

  fromServer(bytes: Uint8Array | string, options: SendOptions = {}): this {
    this.deliver(chunk(bytes, options.chunking), options.pacing, (piece) => this.serverRead(piece));
    return this;
  }

  // The client half-closes (FIN), as a socket close() does.
  closeFromClient(): this {
    this.dispatcher.post(() => this.clientFin());
    this.dispatcher.drain();
    return this;
  }

  resetFromClient(): this {
    this.dispatcher.post(() => this.closeConnection({ reason: 'client_reset', peer: 'remote', details: undefined }));
    this.dispatcher.drain();
    return this;
  }

  endFromServer(): this {
    this.dispatcher.post(() => this.serverFin());
    this.dispatcher.drain();
    return this;
  }

  resetFromServer(): this {
    this.dispatcher.post(() => this.closeConnection({ reason: 'upstream_reset', peer: 'local', details: undefined }));
    this.dispatcher.drain();
    return this;
  }

  // ---- what the test reads back ----

  get isOpen(): boolean {
    return this.closed === undefined;
  }

  get upstreamBytes(): Uint8Array {
    return concatBytes(this.upstreamChunks);
  }

  get clientBytes(): Uint8Array {
    return concatBytes(this.clientChunks);
  }

  get upstreamText(): string {
    return toLatin1(this.upstreamBytes);
  }

  get clientText(): string {
    return toLatin1(this.clientBytes);
  }

  // Callbacks of one kind, e.g. callsTo('proxy_on_downstream_data').
  callsTo(callback: CallbackRecord['callback']): CallbackRecord[] {
    return this.callbacks.filter((record) => record.callback === callback);
  }

  // Host calls of one name per callback invocation, e.g. set_buffer_bytes per downstream callback.
  hostCallCounts(callback: CallbackRecord['callback'], hostFunction: string): number[] {
    return this.callsTo(callback).map((record) => countHostCalls(record, hostFunction));
  }

  // ---- StreamContextHost: what the VM sees of this connection ----

  downstreamDataBuffer(): EnvoyBuffer | undefined {
    return this.downstreamBound ? this.readBuffer : undefined;
  }

  upstreamDataBuffer(): EnvoyBuffer | undefined {
    return this.upstreamBound ? this.upstreamReadBuffer : undefined;
  }

  property(path: string): Uint8Array | undefined {
    if (path === 'connection.termination_details' && this.closed?.details !== undefined) {
      return new TextEncoder().encode(this.closed.details);
    }
    return this.properties.get(path) ?? this.filterState.get(path);
  }

  setFilterState(path: string, value: Uint8Array): void {
    this.filterState.set(path, value.slice());
  }

  continueReading(): void {
    if (this.isOpen) this.continueAfterWasmFilter();
  }

  closeFromFilter(details: 'wasm_downstream_close' | 'wasm_upstream_close'): void {
    this.closeConnection({ reason: details, peer: 'local', details });
  }

  recordCallback(record: CallbackRecord): void {
    this.callbacks.push(record);
  }

  recordLog(record: LogRecord): void {
    this.logs.push(record);
  }

  // ---- Envoy's event handling ----

  private deliver(pieces: Uint8Array[], pacing: SendOptions['pacing'], handle: (piece: Uint8Array) => void): void {
    for (const piece of pieces) {
      this.dispatcher.post(() => handle(piece.slice()));
      if (pacing !== 'burst') this.dispatcher.drain();
    }
    this.dispatcher.drain();
  }

  // Filter chain creation and onNewConnection (wasm Context::onNewConnection, then tcp_proxy).
  private accept(): void {
    const vm = this.vm;
    if (vm === undefined) {
      this.startTcpProxy();
      return;
    }
    if (!vm.failed && vm.has('proxy_on_context_create')) {
      vm.withAfterCallActions(() => vm.invoke('proxy_on_context_create', this.contextId, [this.contextId, rootContextId]));
    }
    this.inVmContextCreated = true;
    const status = this.networkCallback('proxy_on_new_connection', [this.contextId]);
    if (status === FilterAction.Pause || !this.isOpen) return;
    this.startTcpProxy();
  }

  private clientRead(piece: Uint8Array): void {
    if (!this.isOpen || this.readEnd) return;
    if (this.tcpProxy === 'connecting') {
      this.unreadFromClient.push(piece); // reads are disabled until the upstream connects
      return;
    }
    this.readBuffer.append(piece);
    this.onRead();
  }

  private clientFin(): void {
    if (!this.isOpen || this.readEnd) return;
    this.readEnd = true;
    this.readEndUnread = true;
    if (this.tcpProxy === 'connecting') return;
    this.onRead();
    if (this.isOpen && this.writeEnd) this.closeConnection({ reason: 'half_close_complete', peer: 'remote', details: undefined });
  }

  // FilterManagerImpl::onRead: the chain from the first filter.
  private onRead(): void {
    if (this.vm !== undefined && (this.readBuffer.length > 0 || this.readEndUnread)) {
      const status = this.wasmOnData();
      if (status === FilterAction.Pause || !this.isOpen) return;
    }
    this.continueAfterWasmFilter();
  }

  // Context::onData.
  private wasmOnData(): Status {
    if (!this.inVmContextCreated) return FilterAction.Continue;
    this.downstreamBound = true;
    const status = this.networkCallback('proxy_on_downstream_data', [this.contextId, this.readBuffer.length, this.readEnd ? 1 : 0]);
    if (status === FilterAction.Continue) this.downstreamBound = false;
    return status;
  }

  // The filters after the Wasm filter: tcp_proxy's onNewConnection (once) and onData.
  private continueAfterWasmFilter(): void {
    if (this.tcpProxy === 'idle') {
      this.startTcpProxy();
      return;
    }
    if (this.tcpProxy !== 'connected') return;
    if (this.readBuffer.length === 0 && !this.readEndUnread) return;
    const bytes = this.readBuffer.drainAll();
    const end = this.readEndUnread;
    this.readEndUnread = false;
    if (bytes.length > 0) {
      this.upstreamChunks.push(bytes);
      this.upstream.onData?.(bytes, this.upstreamPeer);
    }
    if (end && !this.upstreamFinSent) {
      this.upstreamFinSent = true;
      this.upstreamGotEnd = true;
      if (this.upstream.onEnd !== undefined) this.upstream.onEnd(this.upstreamPeer);
      else this.upstreamPeer.end();
    }
  }

  // tcp_proxy onNewConnection: connect upstream (reads stay disabled until connected).
  private startTcpProxy(): void {
    this.tcpProxy = 'connecting';
    this.dispatcher.post(() => this.upstreamConnected());
  }

  private upstreamConnected(): void {
    if (!this.isOpen) return;
    this.tcpProxy = 'connected';
    this.upstream.onConnect?.(this.upstreamPeer);
    for (const piece of this.unreadFromClient.splice(0)) this.readBuffer.append(piece);
    if (this.readBuffer.length > 0 || this.readEndUnread) this.onRead();
    if (this.isOpen && this.readEnd && this.writeEnd) this.closeConnection({ reason: 'half_close_complete', peer: 'remote', details: undefined });
  }

  private serverRead(piece: Uint8Array): void {
    if (!this.isOpen || this.writeEnd) return;
    this.upstreamReadBuffer.append(piece);
    this.writeToClient(false);
  }

  private serverFin(): void {
    if (!this.isOpen || this.writeEnd) return;
    this.writeToClient(true);
  }

  // ConnectionImpl::write on the downstream connection with tcp_proxy's upstream read buffer.
  private writeToClient(endStream: boolean): void {
    if (this.vm !== undefined) {
      const status = this.wasmOnWrite(endStream);
      if (status === FilterAction.Pause || !this.isOpen) return;
    }
    const bytes = this.upstreamReadBuffer.drainAll();
    if (bytes.length > 0) this.clientChunks.push(bytes);
    if (!endStream) return;
    this.writeEnd = true;
    this.clientGotEnd = true;
    if (this.readEnd) this.closeConnection({ reason: 'half_close_complete', peer: 'local', details: undefined });
  }

  // Context::onWrite.
  private wasmOnWrite(endStream: boolean): Status {
    if (!this.inVmContextCreated) return FilterAction.Continue;
    this.upstreamBound = true;
    const status = this.networkCallback('proxy_on_upstream_data', [this.contextId, this.upstreamReadBuffer.length, endStream ? 1 : 0]);
    if (status === FilterAction.Continue) this.upstreamBound = false;
    if (endStream) this.onUpstreamConnectionClose();
    return status;
  }

  // cpp-host ContextBase::on{NewConnection,DownstreamData,UpstreamData} with CHECK_FAIL_NET before and
  // after the call: a failed VM closes the connection (once) and stops iteration.
  private networkCallback(name: 'proxy_on_new_connection' | 'proxy_on_downstream_data' | 'proxy_on_upstream_data', args: number[]): Status {
    const vm = this.vm;
    if (vm === undefined) return FilterAction.Continue;
    if (vm.failed) {
      this.failStream();
      return FilterAction.Pause;
    }
    if (!vm.has(name)) return FilterAction.Continue;
    return vm.withAfterCallActions(() => {
      const outcome = vm.invoke(name, this.contextId, args);
      if (vm.failed) {
        this.failStream();
        return FilterAction.Pause;
      }
      return outcome.kind === 'returned' && outcome.value !== 0 ? FilterAction.Pause : FilterAction.Continue;
    });
  }

  private failStream(): void {
    if (this.streamFailed) return;
    this.streamFailed = true;
    this.closeConnection({ reason: 'wasm_vm_failed', peer: 'local', details: undefined });
  }

  private onUpstreamConnectionClose(): void {
    this.invokeUnlessFailed('proxy_on_upstream_connection_close', [this.contextId, PeerType.Unknown]);
    if (this.downstreamClosedSeen) this.onCloseTcp();
  }

  // Network::ConnectionImpl::closeSocket: raise the close event to the Wasm filter, then tcp_proxy.
  private closeConnection(close: ConnectionClose): void {
    if (!this.isOpen) return;
    this.closed = close;
    if (this.vm !== undefined && this.inVmContextCreated) {
      const peer: PeerTypeCode = close.peer === 'local' ? PeerType.Local : PeerType.Remote;
      this.invokeUnlessFailed('proxy_on_downstream_connection_close', [this.contextId, peer]);
      this.downstreamClosedSeen = true;
      this.onCloseTcp();
    }
    if (this.tcpProxy !== 'idle') this.upstreamClosed = true;
    const vm = this.vm;
    if (vm !== undefined) this.dispatcher.post(() => vm.detachStream(this.contextId));
  }

  // Context::onCloseTCP: done, log, delete, once.
  private onCloseTcp(): void {
    if (this.tcpClosed || !this.inVmContextCreated) return;
    this.tcpClosed = true;
    this.invokeUnlessFailed('proxy_on_done', [this.contextId]);
    this.invokeUnlessFailed('proxy_on_log', [this.contextId]);
    this.invokeUnlessFailed('proxy_on_delete', [this.contextId]);
  }

  private invokeUnlessFailed(name: CallbackRecord['callback'], args: number[]): void {
    const vm = this.vm;
    if (vm === undefined || vm.failed || !vm.has(name)) return;
    vm.withAfterCallActions(() => vm.invoke(name, this.contextId, args));
  }

  private readonly upstreamPeer: UpstreamPeer = {
    send: (bytes) => {
      for (const piece of chunk(toBytes(bytes), this.upstreamChunking)) {
        const copy = piece.slice();
        this.dispatcher.post(() => this.serverRead(copy));
      }
    },
    end: () => this.dispatcher.post(() => this.serverFin()),
    reset: () => this.dispatcher.post(() => this.closeConnection({ reason: 'upstream_reset', peer: 'local', details: undefined })),
  };
}
