// The files `weir parser new <name>` writes: a working line-protocol parser (requests and replies
// are "\r\n" lines, rule key `cmd` = the first word, deny reply `ERROR denied`), its README and a
// test-host test, so that a new parser builds and passes its tests before its author changes a
// line. Placeholders: __NAME__ (the protocol name, also root_id and folder) and __CLASS__.

export interface ScaffoldNames {
  name: string; // e.g. "redis-lite"
  className: string; // e.g. "RedisLite"
}

export function renderTemplate(template: string, names: ScaffoldNames): string {
  return template.replaceAll('__CLASS_UPPER__', names.className.toUpperCase()).replaceAll('__NAME__', names.name).replaceAll('__CLASS__', names.className);
}

export const INDEX_TEMPLATE = `// Entry point of __NAME__.wasm: the Proxy-Wasm exports from the SDK, running the __NAME__ parser.
import { useParser } from '../../sdk/index';
import { __CLASS__Factory } from './parser';
export * from '../../sdk/module/exports';

useParser(new __CLASS__Factory());
`;

export const RULE_KEYS_TEMPLATE = `// __NAME__'s rule keys: the one declaration the filter and the control server both use. The build
// writes it beside the module as __NAME__.rules.json, from which \`weir serve\` compiles
// CiliumNetworkPolicy rules with \`l7proto: __NAME__\` (docs/writing-a-parser.md, "Rule keys").
import { KeyMatch, RuleKeys } from '../../sdk/index';

export const enum __CLASS__Key {
  Cmd = 0, // the first word of a request line, matched exactly
  Arg = 1, // the rest of the line after the first space, matched by a regex (unanchored search)
}

export const __CLASS_UPPER___RULE_KEYS: RuleKeys = new RuleKeys('__NAME__', 'filters/parsers/__NAME__/README.md')
  .key('cmd', KeyMatch.Exact)
  .key('arg', KeyMatch.Regex);
`;

export const PARSER_TEMPLATE = `// __NAME__: a line protocol (scaffolded by \`weir parser new\`; replace this description). Requests and
// replies are lines ending in "\\r\\n"; every request gets one reply line. Rule keys (rule-keys.ts):
// \`cmd\`, the first space-separated word of a request, and \`arg\`, the rest of the line. Without
// configured rules everything is allowed. A denied request never reaches the server; the client
// gets \`ERROR denied\\r\\n\` in its place among the replies (probe: the empty line, which the server
// must answer with exactly one line).
import { Ascii, ByteView, Connection, Op, Parser, ParserFactory, RuleSchema, asciiBytes, more, pass } from '../../sdk/index';
import { __CLASS_UPPER___RULE_KEYS, __CLASS__Key } from './rule-keys';

const DENY_REPLY: ArrayBuffer = asciiBytes('ERROR denied\\r\\n');
const PROBE_REQUEST: ArrayBuffer = asciiBytes('\\r\\n');

export class __CLASS__Parser extends Parser {
  constructor(private connection: Connection) {
    super();
    connection.answersInOrder(PROBE_REQUEST); // one reply line per request, in order
  }

  onData(reply: bool, endStream: bool, data: ByteView): Op {
    const lineLength = data.lineLength(0);
    if (lineLength < 0) return more(1); // no complete line yet (also for empty data)
    const frameLength = <u32>(lineLength + 2);
    if (reply) {
      this.connection.endOfReply(); // completeReply() would also log a Response entry
      return pass(frameLength);
    }
    this.decodeRequest(data, lineLength);
    // decide() applies the rules and writes the Request or Denied entry (fields cmd and arg).
    return this.connection.decide() ? this.connection.forward(frameLength) : this.connection.refuse(frameLength, DENY_REPLY);
  }

  // Fills the request record: cmd is the first word, arg the rest of the line.
  private decodeRequest(data: ByteView, lineLength: i32): void {
    const record = this.connection.record;
    record.clear();
    const space = data.indexOfBefore(<u8>Ascii.Space, 0, lineLength);
    record.set(__CLASS__Key.Cmd, data, 0, space < 0 ? lineLength : space);
    if (space >= 0) record.set(__CLASS__Key.Arg, data, space + 1, lineLength - space - 1);
  }
}

export class __CLASS__Factory extends ParserFactory {
  get protocol(): string {
    return '__NAME__';
  }

  ruleSchema(): RuleSchema {
    return __CLASS_UPPER___RULE_KEYS;
  }

  create(connection: Connection): Parser {
    return new __CLASS__Parser(connection);
  }
}
`;

export const README_TEMPLATE = `# __NAME__ parser

Scaffolded by \`weir parser new __NAME__\`. Replace each section with the real protocol.
Code: \`parser.ts\` (parser and factory), \`rule-keys.ts\` (the rule keys, for the filter and
the control server), \`index.ts\` (module entry). Built into
\`build/filters/__NAME__.wasm\`; \`root_id\` is \`__NAME__\`. Guide: docs/writing-a-parser.md.

## Protocol

Requests and replies are lines ending in \`\\r\\n\`; each request gets exactly one reply line.

## Rule keys

| key | match |
|---|---|
| \`cmd\` | exact: the first word of the request line |
| \`arg\` | regex (unanchored search): the rest of the line after the first space |

**Default without \`rules\`:** everything is allowed.

## Deny reply

\`ERROR denied\\r\\n\` at the denied request's position among the replies. With no reply outstanding
the request is replaced by the probe \`\\r\\n\`, whose one-line answer is rewritten into the deny reply.

## Always allowed

Replies.

## Limits

A line longer than \`maxBufferBytes\` (default 1 MiB) closes the connection.

## Example configuration

\`\`\`json
{"parser": "__NAME__", "rules": [{"cmd": "GET"}]}
\`\`\`

## Example policy

\`\`\`yaml
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: { name: __NAME__-reads }
spec:
  endpointSelector: { matchLabels: { app: __NAME__-server } }
  ingress:
    - toPorts:
        - ports: [{ port: "7000", protocol: TCP }]
          rules: { l7proto: __NAME__, l7: [{ cmd: GET, arg: "^public/" }] }
\`\`\`
`;

export const TEST_TEMPLATE = `// The scaffolded __NAME__ parser on the Proxy-Wasm test host: allowed lines reach the server and its
// replies the client, denied lines get "ERROR denied" at their place, whatever the TCP chunking.
import { beforeAll, describe, expect, it } from 'vitest';
import { everySplit, lineResponder } from '../../../../server/wasm-host/index.ts';
import { accessLog, ensureFiltersBuilt, loadWeirFilter } from '../../host-helpers.ts';

beforeAll(() => ensureFiltersBuilt('__NAME__'), 600_000);

// A server that answers each line with "OK <line>", and the probe (empty line) with "ERROR".
const server = () => lineResponder((line) => (line === '' ? 'ERROR\\r\\n' : \`OK \${line}\\r\\n\`));

describe('__NAME__ parser', () => {
  it('forwards requests and passes the replies back', () => {
    const vm = loadWeirFilter('__NAME__', '__NAME__', { parser: '__NAME__' }, server);
    const connection = vm.openConnection();
    connection.fromClient('GET a\\r\\n');
    expect(connection.upstreamText).toBe('GET a\\r\\n');
    expect(connection.clientText).toBe('OK GET a\\r\\n');
    expect(accessLog(vm)).toMatchObject([{ type: 'Request', proto: '__NAME__', fields: { cmd: 'GET' } }]);
  });

  it('denies what no rule allows, answering in order and never forwarding it', () => {
    const vm = loadWeirFilter('__NAME__', '__NAME__', { parser: '__NAME__', rules: [{ cmd: 'GET' }] }, server);
    const connection = vm.openConnection();
    connection.fromClient('GET a\\r\\nSET a 1\\r\\nGET b\\r\\n');
    expect(connection.upstreamText).not.toContain('SET');
    expect(connection.clientText).toBe('OK GET a\\r\\nERROR denied\\r\\nOK GET b\\r\\n');
    expect(accessLog(vm).map((entry) => entry.type)).toEqual(['Request', 'Denied', 'Request']);
  });

  it('frames requests the same way at every TCP split', () => {
    const script = 'GET a\\r\\nSET b\\r\\n';
    for (const chunking of everySplit(script)) {
      const vm = loadWeirFilter('__NAME__', '__NAME__', { parser: '__NAME__', rules: [{ cmd: 'GET' }] }, server);
      const connection = vm.openConnection();
      connection.fromClient(script, { chunking });
      expect(connection.clientText).toBe('OK GET a\\r\\nERROR denied\\r\\n');
    }
  });
});
`;
