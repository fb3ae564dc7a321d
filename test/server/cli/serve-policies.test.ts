// `weir serve` and its policy directory: a file edited by hand that does not compile is logged with
// file, path and reason and changes nothing; a directory that does not compile stops start-up.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { runServe, type RunningServe } from '../../../server/cli/serve-command.ts';
import { ENDPOINTS_YAML, readOnlyPolicy } from '../../support/droid-deployment.ts';
import { capturingLogger } from '../../support/capturing-logger.ts';

let serve: RunningServe | undefined;
let dir: string | undefined;

afterEach(async () => {
  await serve?.stop();
  serve = undefined;
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

function serverDir(policies: Record<string, string>): string {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'weir-pol-'));
  fs.writeFileSync(path.join(dir, 'r2d2.wasm'), Buffer.from([0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00]));
  fs.mkdirSync(path.join(dir, 'policies'));
  for (const [name, text] of Object.entries(policies)) fs.writeFileSync(path.join(dir, 'policies', name), text);
  fs.writeFileSync(path.join(dir, 'weir.yaml'), [
    'xds: { address: 127.0.0.1, port: 0 }',
    'policies: { dir: policies }',
    'api: { socket: weir.sock }',
    'redirects:',
    '  - { name: r2d2, parser: r2d2, endpoint: droid-server, listen: { address: 127.0.0.1, port: 10000 }, upstream: { address: 127.0.0.1, port: 9000 } }',
    'filters: { dir: . }',
  ].join('\n'));
  return dir;
}

describe('weir serve policy directory', () => {
  it('logs a hand-edited file that does not compile with file, path and reason, and keeps the revision', async () => {
    const base = serverDir({ 'endpoints.yaml': ENDPOINTS_YAML, 'droid.yaml': readOnlyPolicy() });
    const { logger, entries } = capturingLogger();
    serve = await runServe({ configFile: path.join(base, 'weir.yaml'), logger });
    const before = serve.store.current().revision;
    fs.writeFileSync(path.join(base, 'policies', 'droid.yaml'), readOnlyPolicy('droid-readonly', 'FLY'));
    await expect.poll(() => entries.find((entry) => entry['msg'] === 'policy change rejected; the previous policy stays in force'), { timeout: 5000 }).toBeDefined();
    const rejected = entries.find((entry) => entry['msg'] === 'policy change rejected; the previous policy stays in force');
    expect(rejected?.['problems']).toEqual(['droid.yaml: spec.ingress[0].toPorts[0].rules.l7[0].cmd: unknown r2d2 command "FLY"; expected one of READ, WRITE, HALT, RESET (case-sensitive)']);
    expect(serve.store.current().revision).toBe(before);
    fs.writeFileSync(path.join(base, 'policies', 'droid.yaml'), readOnlyPolicy('droid-readonly', 'HALT'));
    await expect.poll(() => serve?.store.current().revision, { timeout: 5000 }).not.toBe(before);
    expect(entries.some((entry) => entry['msg'] === 'policy revision in force' && entry['revision'] === serve?.store.current().revision)).toBe(true);
  });

  it('warns when a redirect names an endpoint the store does not define', async () => {
    const base = serverDir({});
    const { logger, entries } = capturingLogger();
    serve = await runServe({ configFile: path.join(base, 'weir.yaml'), logger });
    expect(entries.map((entry) => entry['msg'])).toContain(
      'redirect r2d2: guards endpoint "droid-server", which the policy store does not define: its parser denies every request until an Endpoint document of that name is imported',
    );
  });

  it('refuses to start when the policy directory does not compile, listing every problem', async () => {
    const base = serverDir({ 'droid.yaml': readOnlyPolicy('droid-readonly', 'FLY') });
    await expect(runServe({ configFile: path.join(base, 'weir.yaml'), logger: capturingLogger().logger })).rejects.toThrow(
      `the policies in ${path.join(base, 'policies')} do not compile; fix or remove these files and start again:\ndroid.yaml: spec.ingress[0].toPorts[0].rules.l7[0].cmd: unknown r2d2 command "FLY"`,
    );
    expect(fs.existsSync(path.join(base, 'weir.sock'))).toBe(false);
  });
});
