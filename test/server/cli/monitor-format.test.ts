import { describe, expect, it } from 'vitest';
import { formatMonitorLine } from '../../../server/cli/monitor-format.ts';
import { sampleRecord } from '../accesslog/sample-records.ts';

describe('weir monitor lines', () => {
  it('prints a denied request like cilium monitor -t l7', () => {
    const record = sampleRecord({
      type: 'Denied',
      protocol: 'cassandra',
      fields: { query_action: 'select', query_table: 'attendance.daily_records' },
    });
    expect(formatMonitorLine(record)).toBe(
      '<- Request cassandra from [app=empire-outpost] to [app=cass-server], identity 12443->16168, verdict Denied query_action:select query_table:attendance.daily_records',
    );
  });

  it('prints forwarded requests, egress arrows, addresses for unlabelled peers and non-k8s label sources', () => {
    const record = sampleRecord({
      direction: 'egress',
      source: { address: '127.0.0.1:5000', identity: 2, labels: [] },
      destination: { address: '127.0.0.3:11211', identity: 300, labels: ['reserved:world', 'k8s:app=db'] },
      fields: { cmd: 'READ' },
    });
    expect(formatMonitorLine(record)).toBe('-> Request r2d2 from 127.0.0.1:5000 to [reserved:world app=db], identity 2->300, verdict Forwarded cmd:READ');
  });

  it('adds the reason to denials and errors', () => {
    const line = formatMonitorLine(sampleRecord({ type: 'Error', fields: {}, reason: 'frame over maxBufferBytes' }));
    expect(line).toBe('<- Request r2d2 from [app=empire-outpost] to [app=cass-server], identity 12443->16168, verdict Error reason:"frame over maxBufferBytes"');
  });

  it('prints the whole record as one JSON line with -o json', () => {
    const record = sampleRecord();
    expect(JSON.parse(formatMonitorLine(record, 'json'))).toEqual(record);
  });
});
