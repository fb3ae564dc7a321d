import { describe, expect, it } from 'vitest';
import { flowFilterQuery, matchesFlowFilter, parseFlowFilter, type FlowFilter } from '../../../server/accesslog/flow-filter.ts';
import { sampleRecord } from './sample-records.ts';

function filterOf(query: string): FlowFilter {
  const parsed = parseFlowFilter(new URLSearchParams(query));
  if (!parsed.ok) throw new Error(parsed.problem);
  return parsed.filter;
}

describe('flow filters', () => {
  it('parses the /v1/flows query of the issue', () => {
    expect(filterOf('type=l7&verdict=denied&proto=memcache&endpoint=app=x')).toEqual({
      types: ['l7'],
      verdicts: ['denied'],
      protocols: ['memcache'],
      endpoints: [['app=x']],
    });
  });

  it('rejects unknown keys and values, naming the choices', () => {
    expect(parseFlowFilter(new URLSearchParams('verdict=maybe'))).toEqual({ ok: false, problem: 'verdict: "maybe" is not one of forwarded, denied, error' });
    expect(parseFlowFilter(new URLSearchParams('type=drop'))).toEqual({ ok: false, problem: 'type: "drop" is not one of l7' });
    expect(parseFlowFilter(new URLSearchParams('colour=red'))).toEqual({ ok: false, problem: 'unknown filter "colour"; use type, verdict, proto, endpoint, node' });
  });

  it('matches verdicts: Denied is denied, Request and Response are forwarded, Error is error', () => {
    const denied = filterOf('verdict=denied');
    expect(matchesFlowFilter(sampleRecord({ type: 'Denied' }), denied)).toBe(true);
    expect(matchesFlowFilter(sampleRecord({ type: 'Request' }), denied)).toBe(false);
    expect(matchesFlowFilter(sampleRecord({ type: 'Response' }), filterOf('verdict=forwarded'))).toBe(true);
    expect(matchesFlowFilter(sampleRecord({ type: 'Error' }), filterOf('verdict=error'))).toBe(true);
    expect(matchesFlowFilter(sampleRecord({ type: 'Denied' }), filterOf('verdict=dropped'))).toBe(true);
  });

  it('matches endpoint labels on either side, with or without the source prefix, all labels of a set', () => {
    const record = sampleRecord();
    expect(matchesFlowFilter(record, filterOf('endpoint=app=empire-outpost'))).toBe(true);
    expect(matchesFlowFilter(record, filterOf('endpoint=k8s:app=cass-server'))).toBe(true);
    expect(matchesFlowFilter(record, filterOf('endpoint=reserved:app=cass-server'))).toBe(false);
    expect(matchesFlowFilter(record, filterOf('endpoint=app=cass-server,role=db'))).toBe(false);
    expect(matchesFlowFilter(record, filterOf('endpoint=app=other&endpoint=app=cass-server'))).toBe(true);
    expect(matchesFlowFilter(record, filterOf('endpoint=cass-server'))).toBe(true);
  });

  it('requires every parameter to match', () => {
    const record = sampleRecord({ type: 'Denied', protocol: 'r2d2', nodeId: 'n1' });
    expect(matchesFlowFilter(record, filterOf('verdict=denied&proto=r2d2&node=n1'))).toBe(true);
    expect(matchesFlowFilter(record, filterOf('verdict=denied&proto=memcache'))).toBe(false);
    expect(matchesFlowFilter(record, filterOf('node=n2'))).toBe(false);
  });

  it('round-trips through query parameters', () => {
    const filter = filterOf('verdict=denied&proto=r2d2&endpoint=app=a,role=b&node=n1&type=l7');
    expect(filterOf(flowFilterQuery(filter).toString())).toEqual(filter);
  });
});
