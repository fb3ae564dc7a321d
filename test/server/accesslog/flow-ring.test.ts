import { describe, expect, it } from 'vitest';
import { FlowRing } from '../../../server/accesslog/flow-ring.ts';
import { sampleRecord } from './sample-records.ts';

describe('FlowRing', () => {
  it('keeps the newest records, oldest first, and counts each eviction', () => {
    const ring = new FlowRing(3);
    for (let index = 1; index <= 5; index++) ring.push(sampleRecord({ connectionId: String(index) }));
    expect(ring.recent(10).map((record) => record.connectionId)).toEqual(['3', '4', '5']);
    expect(ring.size).toBe(3);
    expect(ring.evicted).toBe(2);
    expect(ring.added).toBe(5);
  });

  it('returns the newest matching records up to the limit', () => {
    const ring = new FlowRing(10);
    for (let index = 1; index <= 6; index++) {
      ring.push(sampleRecord({ connectionId: String(index), type: index % 2 === 0 ? 'Denied' : 'Request' }));
    }
    expect(ring.recent(2, (record) => record.type === 'Denied').map((record) => record.connectionId)).toEqual(['4', '6']);
  });

  it('refuses a capacity that is not a positive integer, saying what to set', () => {
    expect(() => new FlowRing(0)).toThrow(/capacity 0 is not a positive integer; set accessLog.ringSize/);
  });
});
