// A scriptable stand-in for Envoy's gRPC client as a filter reaches it through proxy_grpc_call,
// proxy_grpc_stream, proxy_grpc_send, proxy_grpc_close and proxy_grpc_cancel. It records what the
// filter sent; the test plays the server by calling receive*/close, which the VM delivers as
// proxy_on_grpc_* callbacks on the dispatcher. Tokens follow Envoy: calls odd, streams even.
import { Status, type StatusCode } from './abi.ts';
import type { Pairs } from './serialized-map.ts';

export interface GrpcTarget {
  // The `upstream` bytes as given: a cluster name or a serialized envoy.config.core.v3.GrpcService.
  upstream: Uint8Array;
  cluster: string; // decoded cluster name
  service: string;
  method: string;
  initialMetadata: Pairs;
}

export interface GrpcExchange extends GrpcTarget {
  token: number;
  kind: 'call' | 'stream';
  sent: Uint8Array[]; // request message(s) the filter sent
  localClosed: boolean; // the filter sent end_stream or called proxy_grpc_close
  cancelled: boolean; // proxy_grpc_cancel
  remoteClosed: boolean; // the test closed it from the server side
}

// How the VM delivers server events to the filter (implemented by vm-instance.ts).
export interface GrpcDelivery {
  initialMetadata(token: number, metadata: Pairs): void;
  message(token: number, message: Uint8Array): void;
  trailingMetadata(token: number, metadata: Pairs): void;
  close(token: number, status: number, message: string): void;
}

export interface GrpcFakeOptions {
  // When set, a cluster outside this list is refused as Envoy refuses an unknown cluster.
  knownClusters?: readonly string[];
  // Called when the filter opens a call or stream, to script the server's behaviour.
  onOpen?: (exchange: GrpcExchange, server: GrpcServerSide) => void;
  // Called for every message the filter sends on a stream.
  onMessage?: (exchange: GrpcExchange, message: Uint8Array, server: GrpcServerSide) => void;
}

export interface GrpcServerSide {
  sendInitialMetadata(metadata: Pairs): void;
  sendMessage(message: Uint8Array): void;
  sendTrailingMetadata(metadata: Pairs): void;
  close(status: number, message?: string): void;
}

export class GrpcFake {
  readonly exchanges: GrpcExchange[] = [];
  private nextCallToken = 1;
  private nextStreamToken = 2;
  private delivery: GrpcDelivery | undefined;

  constructor(private readonly options: GrpcFakeOptions = {}) {}

  attach(delivery: GrpcDelivery): void {
    this.delivery = delivery;
  }

  open(kind: 'call' | 'stream', target: GrpcTarget, request?: Uint8Array): { status: StatusCode; token?: number } {
    const known = this.options.knownClusters;
    if (known !== undefined && !known.includes(target.cluster)) return { status: Status.ParseFailure };
    const token = kind === 'call' ? this.nextCallToken : this.nextStreamToken;
    if (kind === 'call') this.nextCallToken += 2;
    else this.nextStreamToken += 2;
    const exchange: GrpcExchange = {
      ...target,
      token,
      kind,
      sent: request === undefined ? [] : [request.slice()],
      localClosed: kind === 'call',
      cancelled: false,
      remoteClosed: false,
    };
    this.exchanges.push(exchange);
    this.options.onOpen?.(exchange, this.serverSide(token));
    return { status: Status.Ok, token };
  }

  send(token: number, message: Uint8Array, endStream: boolean): StatusCode {
    const exchange = this.active(token);
    if (exchange === undefined || exchange.kind !== 'stream') return Status.NotFound;
    if (exchange.localClosed) return Status.NotFound;
    exchange.sent.push(message.slice());
    if (endStream) exchange.localClosed = true;
    this.options.onMessage?.(exchange, message, this.serverSide(token));
    return Status.Ok;
  }

  closeLocal(token: number): StatusCode {
    const exchange = this.active(token);
    if (exchange === undefined) return Status.NotFound;
    if (exchange.kind === 'call') exchange.cancelled = true;
    exchange.localClosed = true;
    return Status.Ok;
  }

  cancel(token: number): StatusCode {
    const exchange = this.active(token);
    if (exchange === undefined) return Status.NotFound;
    exchange.cancelled = true;
    exchange.localClosed = true;
    return Status.Ok;
  }

  find(token: number): GrpcExchange | undefined {
    return this.exchanges.find((exchange) => exchange.token === token);
  }

  // The server side of one exchange, for tests that script replies after the fact.
  serverSide(token: number): GrpcServerSide {
    const deliver = (action: (delivery: GrpcDelivery) => void): void => {
      const exchange = this.active(token);
      if (exchange === undefined || this.delivery === undefined) return;
      action(this.delivery);
    };
    return {
      sendInitialMetadata: (metadata) => deliver((d) => d.initialMetadata(token, metadata)),
      sendMessage: (message) => deliver((d) => d.message(token, message)),
      sendTrailingMetadata: (metadata) => deliver((d) => d.trailingMetadata(token, metadata)),
      close: (status, message = '') =>
        deliver((d) => {
          const exchange = this.find(token);
          if (exchange !== undefined) exchange.remoteClosed = true;
          d.close(token, status, message);
        }),
    };
  }

  private active(token: number): GrpcExchange | undefined {
    const exchange = this.find(token);
    return exchange === undefined || exchange.cancelled || exchange.remoteClosed ? undefined : exchange;
  }
}

// Envoy accepts either a serialized GrpcService (field 1 envoy_grpc { field 1 cluster_name }) or a
// bare cluster name. This decodes the first form and falls back to the second.
export function clusterFromGrpcUpstream(upstream: Uint8Array): string {
  const text = new TextDecoder();
  if (upstream[0] === 0x0a) {
    const outer = readLengthDelimited(upstream, 1);
    if (outer !== undefined && outer.end === upstream.length && outer.body[0] === 0x0a) {
      const inner = readLengthDelimited(outer.body, 1);
      if (inner !== undefined) return text.decode(inner.body);
    }
  }
  return text.decode(upstream);
}

function readLengthDelimited(bytes: Uint8Array, offset: number): { body: Uint8Array; end: number } | undefined {
  let length = 0;
  let shift = 0;
  let position = offset;
  for (;;) {
    const next = bytes[position++];
    if (next === undefined || shift > 28) return undefined;
    length |= (next & 0x7f) << shift;
    if ((next & 0x80) === 0) break;
    shift += 7;
  }
  const end = position + length;
  if (end > bytes.length) return undefined;
  return { body: bytes.subarray(position, end), end };
}
