// The CLI's API client against a server that closes a connection once it has answered on it, as
// `weir serve` closes idle keep-alive connections, while the caller's event loop is busy and
// cannot notice the close (a test running a command synchronously did exactly that).
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { callApi, type ApiTarget } from '../../../server/cli/api-client.ts';

// Answers every POST with the size of its body, then closes the connection and records the close
// (one line per closed connection) in the file named by argv[2].
const SERVER = `
const http = require('node:http');
const fs = require('node:fs');
const [socketPath, closedFile] = process.argv.slice(1);
const server = http.createServer((request, response) => {
  let size = 0;
  request.on('data', (chunk) => (size += chunk.length));
  request.on('end', () => {
    response.on('finish', () => request.socket.end());
    response.end(String(size));
  });
});
server.on('connection', (socket) => socket.on('close', () => fs.appendFileSync(closedFile, 'closed\\n')));
server.listen(socketPath, () => console.log('listening'));
`;

const children: ChildProcess[] = [];
const dirs: string[] = [];

afterEach(() => {
  for (const child of children.splice(0)) child.kill('SIGKILL');
  for (const dir of dirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
});

async function startServer(): Promise<{ target: ApiTarget; closedFile: string }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'weir-api-client-'));
  dirs.push(dir);
  const socket = path.join(dir, 'api.sock');
  const closedFile = path.join(dir, 'closed');
  const child = spawn(process.execPath, ['-e', SERVER, socket, closedFile], { stdio: ['ignore', 'pipe', 'inherit'] });
  children.push(child);
  await new Promise<void>((resolve, reject) => {
    child.stdout?.once('data', () => resolve());
    child.once('exit', (code) => reject(new Error(`the test server exited (${code})`)));
  });
  return { target: { kind: 'socket', socket }, closedFile };
}

// Blocks this process's event loop until the server has closed `count` connections.
function blockUntilClosed(closedFile: string, count: number): void {
  execFileSync('sh', ['-c', `until [ "$(cat "$0" 2>/dev/null | wc -l)" -ge ${count} ]; do sleep 0.01; done`, closedFile], { timeout: 10_000 });
}

describe('weir CLI API client', () => {
  it('sends each call on its own connection, so a connection the server closed meanwhile is never reused', async () => {
    const { target, closedFile } = await startServer();
    const body = 'x'.repeat(3000);
    const first = await callApi(target, { method: 'POST', path: '/v1/policies', body });
    expect(first).toMatchObject({ status: 200, text: '3000' });
    blockUntilClosed(closedFile, 1);
    const second = await callApi(target, { method: 'POST', path: '/v1/policies', body });
    expect(second).toMatchObject({ status: 200, text: '3000' });
    blockUntilClosed(closedFile, 2);
    expect(fs.readFileSync(closedFile, 'utf8').trim().split('\n')).toHaveLength(2);
  });
});
