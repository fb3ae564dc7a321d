// The xDS messages of a state-of-the-world ADS stream, as far as the agent needs them:
// DiscoveryRequest out (node, version_info, type_url, response_nonce, error_detail) and
// DiscoveryResponse in (version_info, resources as Any{type_url, value}, type_url, nonce).
// Field numbers from envoy/service/discovery/v3/discovery.proto and envoy/config/core/v3/base.proto.
import { ProtoReader, ProtoWriter, WireType } from '../sdk/bytes/protobuf';

const enum RequestField {
  VersionInfo = 1,
  Node = 2,
  TypeUrl = 4,
  ResponseNonce = 5,
  ErrorDetail = 6,
}

const enum NodeField {
  Id = 1,
  Cluster = 2,
  Metadata = 3,
  UserAgentName = 6,
}

const enum StatusField {
  Code = 1,
  Message = 2,
}

const enum ResponseField {
  VersionInfo = 1,
  Resources = 2,
  TypeUrl = 4,
  Nonce = 5,
}

const enum AnyField {
  TypeUrl = 1,
  Value = 2,
}

// google.rpc.Code INVALID_ARGUMENT: what a NACK reports for a resource that does not validate.
export const INVALID_ARGUMENT: u32 = 3;

export class DiscoveryRequest {
  versionInfo: string = '';
  typeUrl: string = '';
  responseNonce: string = '';
  // Non-empty: this request is a NACK of `responseNonce` with this message.
  errorMessage: string = '';
}

export class AgentNode {
  // The serialized google.protobuf.Struct sent as node.metadata; null: none.
  metadata: ArrayBuffer | null = null;

  constructor(
    public id: string,
    public cluster: string,
  ) {}
}

// node.metadata (a serialized Struct) of a serialized envoy.config.core.v3.Node, as Envoy gives
// it for the `xds.node` property; null when the node has none or does not parse.
export function nodeMetadataOf(serializedNode: ArrayBuffer): ArrayBuffer | null {
  const reader = new ProtoReader(changetype<usize>(serializedNode), serializedNode.byteLength);
  let metadata: ArrayBuffer | null = null;
  while (reader.next()) {
    if (reader.field != NodeField.Metadata || reader.wireType != WireType.LengthDelimited) continue;
    const copy = new ArrayBuffer(reader.valueLength);
    memory.copy(changetype<usize>(copy), reader.valuePointer, <usize>reader.valueLength);
    metadata = copy;
  }
  return reader.failed ? null : metadata;
}

// The serialized request; the caller releases the writer after sending.
export function encodeDiscoveryRequest(node: AgentNode, request: DiscoveryRequest): ProtoWriter {
  const message = new ProtoWriter();
  if (request.versionInfo.length > 0) message.stringField(RequestField.VersionInfo, request.versionInfo);
  const nodeMessage = new ProtoWriter();
  nodeMessage.stringField(NodeField.Id, node.id);
  if (node.cluster.length > 0) nodeMessage.stringField(NodeField.Cluster, node.cluster);
  const metadata = node.metadata;
  if (metadata !== null) nodeMessage.bytesField(NodeField.Metadata, changetype<usize>(metadata), <usize>metadata.byteLength);
  nodeMessage.stringField(NodeField.UserAgentName, 'weir-agent');
  message.messageField(RequestField.Node, nodeMessage);
  nodeMessage.release();
  message.stringField(RequestField.TypeUrl, request.typeUrl);
  if (request.responseNonce.length > 0) message.stringField(RequestField.ResponseNonce, request.responseNonce);
  if (request.errorMessage.length > 0) {
    const status = new ProtoWriter();
    status.varintField(StatusField.Code, <u64>INVALID_ARGUMENT);
    status.stringField(StatusField.Message, request.errorMessage);
    message.messageField(RequestField.ErrorDetail, status);
    status.release();
  }
  return message;
}

// One google.protobuf.Any of a response; its value stays inside the response bytes.
export class AnyResource {
  constructor(
    public typeUrl: string,
    public pointer: usize,
    public length: i32,
  ) {}
}

export class DiscoveryResponse {
  versionInfo: string = '';
  typeUrl: string = '';
  nonce: string = '';
  resources: Array<AnyResource> = new Array<AnyResource>();
}

// Decodes a response whose bytes stay alive while it is used; null when it is malformed.
export function decodeDiscoveryResponse(pointer: usize, length: i32): DiscoveryResponse | null {
  const response = new DiscoveryResponse();
  const reader = new ProtoReader(pointer, length);
  while (reader.next()) {
    if (reader.field == ResponseField.VersionInfo && reader.wireType == 2) response.versionInfo = reader.stringValue();
    else if (reader.field == ResponseField.TypeUrl && reader.wireType == 2) response.typeUrl = reader.stringValue();
    else if (reader.field == ResponseField.Nonce && reader.wireType == 2) response.nonce = reader.stringValue();
    else if (reader.field == ResponseField.Resources && reader.wireType == 2) {
      const resource = decodeAny(reader.nested());
      if (resource === null) return null;
      response.resources.push(resource);
    }
  }
  return reader.failed ? null : response;
}

function decodeAny(reader: ProtoReader): AnyResource | null {
  const resource = new AnyResource('', 0, 0);
  while (reader.next()) {
    if (reader.field == AnyField.TypeUrl && reader.wireType == 2) resource.typeUrl = reader.stringValue();
    else if (reader.field == AnyField.Value && reader.wireType == 2) {
      resource.pointer = reader.valuePointer;
      resource.length = reader.valueLength;
    }
  }
  return reader.failed ? null : resource;
}
