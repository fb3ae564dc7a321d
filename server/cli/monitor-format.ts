// How `weir monitor` prints one access-log record, in the spirit of `cilium monitor -t l7`:
//   <- Request r2d2 from [app=client] to [app=server], identity 12443->16168, verdict Denied cmd:WRITE file:C-3PO
// The kind is Request or Response (Cilium's flow type); Denied and Error show in the verdict.
// `<-` is ingress (traffic into the local endpoint), `->` egress. Labels show without the `k8s:`
// source; a peer without labels shows its address. `-o json` prints the record as one JSON line.
import type { AccessLogRecord, PeerRecord } from '../accesslog/access-log-record.ts';

export type MonitorOutput = 'text' | 'json';

export function formatMonitorLine(record: AccessLogRecord, output: MonitorOutput = 'text'): string {
  if (output === 'json') return JSON.stringify(record);
  const arrow = record.direction === 'egress' ? '->' : record.direction === 'ingress' ? '<-' : '--';
  const parts = [
    `${arrow} ${record.type === 'Response' ? 'Response' : 'Request'} ${record.protocol} from ${peerText(record.source)} to ${peerText(record.destination)},`,
    `identity ${record.source.identity}->${record.destination.identity},`,
    `verdict ${verdictWord(record)}`,
  ];
  const fields = Object.entries(record.fields).map(([key, value]) => `${key}:${value}`);
  if (record.reason !== '' && record.type !== 'Request' && record.type !== 'Response') fields.push(`reason:${JSON.stringify(record.reason)}`);
  return [...parts, ...fields].join(' ');
}

function peerText(peer: PeerRecord): string {
  if (peer.labels.length === 0) return peer.address === '' ? '[unknown]' : peer.address;
  return `[${peer.labels.map((label) => (label.startsWith('k8s:') ? label.slice(4) : label)).join(' ')}]`;
}

function verdictWord(record: AccessLogRecord): string {
  if (record.type === 'Denied') return 'Denied';
  if (record.type === 'Error') return 'Error';
  return 'Forwarded';
}
