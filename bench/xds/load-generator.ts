// A load-generator process of the xDS fan-out benchmark: opens one ADS stream (SotW or delta) per
// simulated proxy for a slice of node indexes, spread over several HTTP/2 connections, and behaves
// like Envoy: subscribes (CDS and LDS wildcard, ECDS, its NetworkPolicy and the identity map by
// name) and ACKs every response by echoing its nonce (and version, in SotW). Once armed it records
// when each stream ACKed the changed NetworkPolicy, and reports those times, the bytes it received
// and its own CPU, so the orchestrator can tell when the generator, not the server, is the limit.
import * as grpc from '@grpc/grpc-js';
import { createHash } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { benchNodeId, benchSubscriptions, CHANGED_TYPE_URL, type BenchSubscription } from './fixture.ts';
import { epochNow, isReport, reportToParent, type GeneratorCommand, type StreamSample, type XdsVariant } from './ipc.ts';
import { encodeDeltaRequest, encodeSotwRequest, readDeltaResponse, readSotwResponse, type ResponseSummary } from './wire.ts';

const ADS_SERVICE_PATH = '/envoy.service.discovery.v3.AggregatedDiscoveryService';
const METHOD_PATHS: Record<XdsVariant, string> = {
  sotw: `${ADS_SERVICE_PATH}/StreamAggregatedResources`,
  delta: `${ADS_SERVICE_PATH}/DeltaAggregatedResources`,
};

const ENVOY_HTTP2_WINDOW_BYTES = 256 * 1024 * 1024;

interface BenchStream {
  index: number;
  call: grpc.ClientDuplexStream<Buffer, Buffer>;
  subscriptions: readonly BenchSubscription[];
  /** Types not ACKed yet in the initial sync. */
  unsyncedTypes: Set<string>;
  convergedAt: number | undefined;
}

const { values } = parseArgs({
  options: {
    port: { type: 'string' },
    variant: { type: 'string' },
    from: { type: 'string' },
    to: { type: 'string' },
    'streams-per-channel': { type: 'string', default: '100' },
    'open-concurrency': { type: 'string', default: '200' },
  },
});
const variant: XdsVariant = values.variant === 'delta' ? 'delta' : 'sotw';
const firstIndex = Number(values.from);
const endIndex = Number(values.to);
const streamsPerChannel = Number(values['streams-per-channel']);
const openConcurrency = Number(values['open-concurrency']);
const target = `127.0.0.1:${Number(values.port)}`;
const readResponse = variant === 'delta' ? readDeltaResponse : readSotwResponse;

const streams: BenchStream[] = [];
const clients: grpc.Client[] = [];
let stopping = false;
let armed = false;
let syncedStreams = 0;
let convergedStreams = 0;
let bytesReceived = 0;
let responses = 0;
let armedCpu = process.cpuUsage();
let armedLoop = performance.eventLoopUtilization();
let onStreamSynced: () => void = () => {};
/** What the first stream received in the current phase (initial sync, then the change). */
let sample: StreamSample = { anyHashes: [], changedEnvelope: undefined };

process.on('message', (message: unknown) => {
  if (!isReport(message)) return;
  const command = message as GeneratorCommand;
  if (command.kind === 'arm') arm();
  else if (command.kind === 'stop') stop();
});
process.on('disconnect', stop);

await openAllStreams();

async function openAllStreams(): Promise<void> {
  const started = performance.now();
  const total = endIndex - firstIndex;
  let opened = 0;
  await new Promise<void>((resolve) => {
    const openMore = (): void => {
      while (opened < total && opened - syncedStreams < openConcurrency) {
        streams.push(openStream(firstIndex + opened, opened));
        opened += 1;
      }
      if (syncedStreams === total) resolve();
    };
    onStreamSynced = openMore;
    openMore();
  });
  reportToParent({ kind: 'synced', streams: total, syncMs: performance.now() - started, bytesReceived, sample: sortedSample() });
}

function openStream(index: number, localIndex: number): BenchStream {
  const call = channelFor(localIndex).makeBidiStreamRequest<Buffer, Buffer>(
    METHOD_PATHS[variant],
    (request) => request,
    (response) => response,
  );
  const subscriptions = benchSubscriptions(index);
  const stream: BenchStream = {
    index,
    call,
    subscriptions,
    unsyncedTypes: new Set(subscriptions.map((subscription) => subscription.typeUrl)),
    convergedAt: undefined,
  };
  call.on('data', (bytes: Buffer) => receive(stream, bytes));
  call.on('error', (error: Error) => {
    if (!stopping) fail(`stream of ${benchNodeId(index)} ended: ${error.message}`);
  });
  subscriptions.forEach((subscription, position) => {
    const nodeId = position === 0 ? benchNodeId(index) : undefined;
    call.write(encodeRequest({ nodeId, nodeCluster: 'bench', typeUrl: subscription.typeUrl, resourceNames: subscription.resourceNames, responseNonce: '' }));
  });
  return stream;
}

/**
 * One HTTP/2 connection per `streamsPerChannel` streams; a local subchannel pool stops grpc-js from
 * sharing them. Envoy opens its xDS connection with 256 MiB HTTP/2 windows; grpc-js defaults to
 * 64 KiB per connection, which would make a hundred streams sharing one connection wait for
 * WINDOW_UPDATE round trips that no real proxy waits for.
 */
function channelFor(localIndex: number): grpc.Client {
  const channelIndex = Math.floor(localIndex / streamsPerChannel);
  let client = clients[channelIndex];
  if (!client) {
    client = new grpc.Client(target, grpc.credentials.createInsecure(), {
      'grpc.use_local_subchannel_pool': 1,
      'grpc.max_receive_message_length': 64 * 1024 * 1024,
      'grpc-node.flow_control_window': ENVOY_HTTP2_WINDOW_BYTES,
    });
    clients[channelIndex] = client;
  }
  return client;
}

function receive(stream: BenchStream, bytes: Buffer): void {
  bytesReceived += bytes.length;
  responses += 1;
  const response = readResponse(bytes);
  acknowledge(stream, response);
  if (stream.index === firstIndex) recordSample(response);
  if (stream.unsyncedTypes.delete(response.typeUrl) && stream.unsyncedTypes.size === 0) {
    syncedStreams += 1;
    onStreamSynced();
  }
  if (armed && response.typeUrl === CHANGED_TYPE_URL && stream.convergedAt === undefined) {
    stream.convergedAt = epochNow();
    convergedStreams += 1;
    if (convergedStreams === streams.length) reportConverged();
  }
}

/** Envoy's ACK: the same type, the response's nonce; SotW also echoes the version and the names it wants. */
function acknowledge(stream: BenchStream, response: ResponseSummary): void {
  const subscription = stream.subscriptions.find((candidate) => candidate.typeUrl === response.typeUrl);
  if (!subscription) {
    fail(`${benchNodeId(stream.index)} received unsubscribed type ${response.typeUrl}`);
    return;
  }
  stream.call.write(
    encodeRequest({
      typeUrl: response.typeUrl,
      resourceNames: variant === 'sotw' ? subscription.resourceNames : [],
      versionInfo: response.version,
      responseNonce: response.nonce,
    }),
  );
}

function recordSample(response: ResponseSummary): void {
  for (const any of response.anys) sample.anyHashes.push(createHash('sha256').update(any).digest('hex'));
  if (response.typeUrl === CHANGED_TYPE_URL) {
    const { version, nonce, controlPlane, resourceVersions } = response;
    sample.changedEnvelope = { version, nonce, controlPlane, resourceVersions };
  }
}

function sortedSample(): StreamSample {
  return { ...sample, anyHashes: [...sample.anyHashes].sort() };
}

function encodeRequest(fields: Parameters<typeof encodeSotwRequest>[0]): Buffer {
  return variant === 'delta' ? encodeDeltaRequest(fields) : encodeSotwRequest(fields);
}

function arm(): void {
  bytesReceived = 0;
  responses = 0;
  convergedStreams = 0;
  sample = { anyHashes: [], changedEnvelope: undefined };
  for (const stream of streams) stream.convergedAt = undefined;
  armedCpu = process.cpuUsage();
  armedLoop = performance.eventLoopUtilization();
  armed = true;
}

function reportConverged(): void {
  armed = false;
  const cpu = process.cpuUsage(armedCpu);
  reportToParent({
    kind: 'converged',
    sample: sortedSample(),
    ackedAt: streams.map((stream) => stream.convergedAt ?? Number.NaN),
    bytesReceived,
    responses,
    cpuMicros: cpu.user + cpu.system,
    eventLoopUtilization: performance.eventLoopUtilization(armedLoop).utilization,
  });
}

function fail(message: string): void {
  if (stopping) return;
  reportToParent({ kind: 'failed', message });
}

function stop(): void {
  if (stopping) return;
  stopping = true;
  for (const stream of streams) stream.call.cancel();
  for (const client of clients) client.close();
  setImmediate(() => process.exit(0));
}
