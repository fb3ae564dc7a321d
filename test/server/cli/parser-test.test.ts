// `weir parser test`: byte scripts parsed with their escapes and errors, and run through r2d2 on
// the test host, printing the ops, what each side received and the access-log lines.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runParserCommand } from '../../../server/cli/parser-command.ts';
import { ByteScriptError, parseByteScript } from '../../../server/parser-scaffold/byte-script.ts';
import { ensureFiltersBuilt } from '../../filters/host-helpers.ts';

describe('byte scripts', () => {
  it('reads client/server steps with escapes, half-closes, config, comments and blank lines', () => {
    const script = parseByteScript('# a comment\nconfig: {"parser":"r2d2"}\n\nclient: READ a\\r\\n\nserver: \\x00\\\\\\t\\0 \nclient: <end>\n', 'x.script');
    expect(script.configuration).toBe('{"parser":"r2d2"}');
    expect(script.steps).toEqual([
      { kind: 'write', peer: 'client', bytes: Uint8Array.from(Buffer.from('READ a\r\n', 'latin1')), line: 4 },
      { kind: 'write', peer: 'server', bytes: Uint8Array.from([0, 0x5c, 0x09, 0, 0x20]), line: 5 },
      { kind: 'end', peer: 'client', line: 6 },
    ]);
  });

  it.each([
    ['hello\n', 'x.script:1: expected "client: <bytes>"'],
    ['client: \\q\n', 'x.script:1: unknown escape "\\q"'],
    ['client: a\nconfig: {}\n', 'x.script:2: config must come before'],
    ['client: \u20ac\n', 'is not a byte'],
  ])('rejects %j with the line and the reason', (text, message) => {
    expect(() => parseByteScript(text, 'x.script')).toThrow(ByteScriptError);
    expect(() => parseByteScript(text, 'x.script')).toThrow(message);
  });
});

describe('weir parser test', () => {
  let dir: string;

  beforeAll(() => {
    ensureFiltersBuilt('r2d2');
    dir = mkdtempSync(path.join(os.tmpdir(), 'weir-parser-test-'));
  }, 600_000);

  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  async function run(args: string[]): Promise<{ code: number; out: string; err: string }> {
    let out = '';
    let err = '';
    const code = await runParserCommand(args, { out: (text) => (out += text), err: (text) => (err += text) });
    return { code, out, err };
  }

  it('prints ops, the bytes each side received, and the log entries, step by step', async () => {
    const file = path.join(dir, 'r2d2.script');
    writeFileSync(file, 'client: READ a\\r\\nWRITE C-3PO\\r\\n\nserver: OK a\\r\\n\n');
    const { code, out } = await run(['test', 'r2d2', file]);
    expect(code).toBe(0);
    expect(out).toContain('line 1: client writes "READ a\\r\\nWRITE C-3PO\\r\\n"\n  op request PASS 8 buffered=21\n  op request DROP 13 buffered=13\n');
    expect(out).toContain('  server received "READ a\\r\\n"\n');
    expect(out).toMatch(/log info weir-accesslog \{"type":"Request","proto":"r2d2","connection":\d+,"fields":\{"cmd":"READ","file":"a"\}/);
    expect(out).toMatch(/log warn weir-accesslog \{"type":"Denied".*"file":"C-3PO"/);
    expect(out).toContain('line 2: server writes "OK a\\r\\n"\n  op reply PASS 6 buffered=6\n');
    expect(out).toContain('server received in total: "READ a\\r\\n"\n');
    expect(out).toContain('  client received "OK a\\r\\nERROR\\r\\n"\n'); // the deny reply right after READ's
    expect(out).toContain('client received in total: "OK a\\r\\nERROR\\r\\n"\n');
    expect(out).toContain('connection: open\n');
  });

  it('fails with a usable message for an unknown parser, a missing script and bad usage', async () => {
    expect(await run(['test', 'nosuchparser', 'x'])).toMatchObject({ code: 1, err: expect.stringContaining('filters/parsers/nosuchparser/index.ts does not exist') });
    expect(await run(['test', 'r2d2', path.join(dir, 'missing.script')])).toMatchObject({ code: 1, err: expect.stringContaining('does not exist') });
    expect(await run(['frobnicate'])).toMatchObject({ code: 2, err: expect.stringContaining('weir parser new NAME') });
  });
});
