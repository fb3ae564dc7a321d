// The xDS server keeps one write request alive so that V8 keeps its optimized code for Node's
// stream write path across full collections (server/xds/write-request-shape.ts). Each case runs a
// child Node that writes on a real HTTP/2 stream until writeGeneric (Node's write path, shared
// by every stream write) is optimized, lets every write request die, collects, and reports
// whether that code survived; with V8's natives syntax, as only a test may use it.
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const repoRoot = path.resolve(import.meta.dirname, '..', '..', '..');
const MODULE = path.join(repoRoot, 'server', 'xds', 'write-request-shape.ts');

// argv: the module's path, then 'anchor' to keep the write request shape first. Prints JSON:
// whether writeGeneric was optimized before and after the collections, and whether the anchor
// was made.
const CHILD = `
import { createRequire } from 'node:module';
import http2 from 'node:http2';
const require = createRequire(import.meta.url);
const { writeGeneric } = require('internal/stream_base_commons');
const [modulePath, mode] = process.argv.slice(1);
const anchor = mode === 'anchor' ? (await import(modulePath)).keepWriteRequestShape() : undefined;
const natives = (body) => new Function('a', 'b', body);
const optimizeOnNextCall = natives('%OptimizeFunctionOnNextCall(a)');
const optimized = natives('return (%GetOptimizationStatus(a) & 16) !== 0');

const server = http2.createServer();
const served = new Promise((resolve) => server.once('stream', (stream) => {
  stream.respond({ ':status': 200 });
  resolve(stream);
}));
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
const client = http2.connect('http://127.0.0.1:' + server.address().port);
const request = client.request({ ':method': 'POST' });
request.resume();
const stream = await served;
const chunk = Buffer.alloc(64, 1);
const write = () => new Promise((resolve) => stream.write(chunk, resolve));
for (let i = 0; i < 2000; i += 1) await write();
optimizeOnNextCall(writeGeneric);
await write();
const before = optimized(writeGeneric);
for (let i = 0; i < 4; i += 1) {
  globalThis.gc();
  await new Promise((resolve) => setImmediate(resolve));
}
const after = optimized(writeGeneric);
console.log(JSON.stringify({ before, after, anchored: anchor !== undefined }));
// The open stream would keep both ends alive.
process.exit(0);
`;

interface ChildReport {
  before: boolean;
  after: boolean;
  anchored: boolean;
}

function runChild(mode: 'anchor' | 'none'): ChildReport {
  const output = execFileSync(
    process.execPath,
    ['--import', 'tsx', '--expose-internals', '--allow-natives-syntax', '--expose-gc', '--input-type=module', '-e', CHILD, MODULE, mode],
    { cwd: repoRoot, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 60_000 },
  );
  return JSON.parse(output.trim().split('\n').at(-1) ?? '{}') as ChildReport;
}

describe('the write request shape kept by the xDS server', () => {
  it('without it, a full collection after the writes throws away the optimized write path', () => {
    const report = runChild('none');
    expect(report.before).toBe(true);
    expect(report.after).toBe(false);
  });

  it('with it, the optimized write path survives the collection', () => {
    const report = runChild('anchor');
    expect(report.anchored).toBe(true);
    expect(report.before).toBe(true);
    expect(report.after).toBe(true);
  });
});
