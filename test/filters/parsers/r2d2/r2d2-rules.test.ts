// r2d2 with configured rules on the Proxy-Wasm test host: `cmd` exact, `file` exact or as a DFA
// table (the form the control server compiles regexes into), allow-list semantics, the C-3PO
// default only without rules, and rejection of invalid rules and configurations.
import { beforeAll, describe, expect, it } from 'vitest';
import { FilterLoadError, lineResponder } from '../../../../server/wasm-host/index.ts';
import { answer } from '../../../../demo/backends/r2d2-backend.ts';
import { accessLog, loadWeirFilter, ensureFiltersBuilt } from '../../host-helpers.ts';

// Building can take minutes when the SDK changed; keep it out of the first test's timeout.
beforeAll(() => ensureFiltersBuilt('r2d2'), 600_000);

const r2d2Server = () => {
  const files = new Map<string, number>();
  return lineResponder((line) => answer(line, files));
};

// A DFA over whole values for "starts with `prefix`, then anything": one class per prefix byte
// plus "other"; state i has matched i prefix bytes; the last state loops on every class.
function prefixDfa(prefix: string): object {
  const classCount = prefix.length + 1;
  const classes = Array.from({ length: 256 }, () => 0);
  [...prefix].forEach((char, index) => (classes[char.charCodeAt(0)] = index + 1));
  const transitions: number[] = [];
  for (let state = 0; state <= prefix.length; state++) {
    for (let cls = 0; cls < classCount; cls++) {
      if (state === prefix.length) transitions.push(state);
      else transitions.push(cls === state + 1 ? state + 1 : -1);
    }
  }
  return { classCount, classes, transitions, accepting: [prefix.length], start: 0 };
}

function load(rules: unknown) {
  return loadWeirFilter('r2d2', 'r2d2', { parser: 'r2d2', rules }, r2d2Server);
}

// What the filter logged when it refused `rules`; fails the test if it accepted them.
function configurationProblem(rules: unknown): string {
  try {
    load(rules);
  } catch (err) {
    if (!(err instanceof FilterLoadError)) throw err;
    expect(err.stage).toBe('configure');
    return err.logs.map((record) => record.message).join('\n');
  }
  throw new Error(`the filter accepted rules ${JSON.stringify(rules)}`);
}

describe('r2d2 rules', () => {
  it('allows only what some rule allows, answering ERROR for the rest', () => {
    const vm = load([{ cmd: 'READ' }, { cmd: 'HALT' }]);
    const connection = vm.openConnection();
    connection.fromClient('READ a\r\nWRITE a\r\nHALT\r\nRESET\r\n');
    expect(connection.clientText).toBe('OK a written 0 times\r\nERROR\r\nOK halted\r\nERROR\r\n');
    expect(connection.upstreamText).not.toContain('WRITE');
    expect(connection.upstreamText).not.toContain('RESET');
    // Replies to the SDK's probes are the denials' replies: no Response entry of their own.
    expect(accessLog(vm).map((entry) => [entry.type, entry.rule ?? entry.fields.status])).toEqual([
      ['Request', 'rules[0]'],
      ['Denied', undefined],
      ['Request', 'rules[1]'],
      ['Denied', undefined],
      ['Response', 'OK'],
      ['Response', 'OK'],
    ]);
  });

  it('matches file through a DFA table, over the whole file name', () => {
    const vm = load([{ cmd: 'READ', file: { regex: '^public/.*', dfa: prefixDfa('public/') } }]);
    const connection = vm.openConnection();
    connection.fromClient('READ public/x\r\nREAD private/x\r\nREAD public\r\n');
    expect(connection.clientText).toBe('OK public/x written 0 times\r\nERROR\r\nERROR\r\n');
  });

  it('with rules configured, C-3PO is no longer special', () => {
    const vm = load([{ cmd: 'WRITE', file: 'C-3PO' }]);
    const connection = vm.openConnection();
    connection.fromClient('WRITE C-3PO\r\n');
    expect(connection.clientText).toBe('OK wrote C-3PO\r\n');
  });

  it('an empty rule allows everything; an empty rule list allows nothing', () => {
    const open = load([{}]).openConnection();
    open.fromClient('RESET\r\n');
    expect(open.clientText).toBe('OK reset\r\n');
    const closed = load([]).openConnection();
    closed.fromClient('RESET\r\n');
    expect(closed.clientText).toBe('ERROR\r\n');
  });

  it.each([
    [[{ cmd: 'FLY' }], 'unknown r2d2 cmd "FLY"'],
    [[{ cmd: 'HALT', file: 'x' }], 'file applies only to READ and WRITE'],
    [[{ command: 'READ' }], 'unknown rule key "command"'],
    [[{ file: { regex: 'x' } }], 'needs "exact" or "dfa"'],
    [[{ file: { dfa: { classCount: 1, classes: [0], transitions: [0], accepting: [0] } } }], 'classes must have 256 entries'],
  ])('rejects the configuration for rules %j (%s)', (rules, reason) => {
    expect(configurationProblem(rules)).toContain(reason);
  });
});

describe('plugin configuration', () => {
  it.each([
    ['not json', '{"parser":'],
    ['wrong parser', '{"parser":"memcache"}'],
    ['maxBufferBytes zero', '{"maxBufferBytes":0}'],
    ['trailing garbage', '{} x'],
  ])('refuses %s', (_name, configuration) => {
    expect(() => loadWeirFilter('r2d2', 'r2d2', configuration)).toThrow(FilterLoadError);
  });

  it('ignores unknown fields and accepts an empty configuration', () => {
    const vm = loadWeirFilter('r2d2', 'r2d2', '{"parser":"r2d2","future":{"a":[1,2,{"b":null}]},"maxBufferBytes":4096}', r2d2Server);
    const connection = vm.openConnection();
    connection.fromClient('HALT\r\n');
    expect(connection.clientText).toBe('OK halted\r\n');
    expect(() => loadWeirFilter('r2d2', 'r2d2', '')).not.toThrow();
  });

  it('logs every verdict with the connection id, command and file', () => {
    const vm = loadWeirFilter('r2d2', 'r2d2', {}, r2d2Server);
    const connection = vm.openConnection();
    connection.fromClient('READ "odd\\name"\r\n');
    expect(accessLog(vm)).toEqual([
      { type: 'Request', proto: 'r2d2', connection: connection.connectionId, fields: { cmd: 'READ', file: '"odd\\name"' }, reason: '' },
      { type: 'Response', proto: 'r2d2', connection: connection.connectionId, fields: { status: 'OK' }, reason: '' },
    ]);
  });
});
