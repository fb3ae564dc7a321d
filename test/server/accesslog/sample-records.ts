// Builders of access-log records and wire entries for the access-log tests.
import type { AccessLogRecord } from '../../../server/accesslog/access-log-record.ts';

export function sampleRecord(overrides: Partial<AccessLogRecord> = {}): AccessLogRecord {
  return {
    time: '2026-01-02T03:04:05.006Z',
    timeUnixNano: '1767323045006000000',
    nodeId: 'node-a',
    direction: 'ingress',
    type: 'Request',
    protocol: 'r2d2',
    source: { address: '127.0.0.2:40000', identity: 12443, labels: ['k8s:app=empire-outpost'] },
    destination: { address: '127.0.0.1:9000', identity: 16168, labels: ['k8s:app=cass-server'] },
    endpoint: 'cass-server',
    policyRevision: 'rev-1',
    rule: '',
    fields: { cmd: 'READ', file: 'alpha' },
    reason: '',
    connectionId: '7',
    ...overrides,
  };
}
