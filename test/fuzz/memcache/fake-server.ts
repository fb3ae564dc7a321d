// A memcached for the Wasm test host that frames what reaches it with the fuzz model
// (memcached-model.ts) and answers each request the way memcached 1.6.18 shapes its replies:
// VALUE/VA items with data blocks (some of which look like replies), STORED, HD/EN, VERSION,
// binary headers echoing opcode and opaque, silence for noreply and quiet requests, CLIENT_ERROR
// for a refused storage line (whose data block is then read as commands, as memcached does), and
// a closed connection where memcached closes. Replies are only as faithful as reply framing needs.
import type { FakeUpstream, UpstreamPeer } from '../../../server/wasm-host/index.ts';
import type { ModelFrame } from '../framework/protocol.ts';
import { concat } from '../framework/mutate.ts';
import { readFrames } from './memcached-model.ts';

const INITIAL: Readonly<Record<string, string>> = { 'ok/a': 'VERSION 1.6.18\r\nEND\r\n', 'ok/b': 'b', secret: 'VALUE x 0 1\r\n' };

export function fakeMemcachedServer(): FakeUpstream {
  const store = new Map<string, Buffer>(Object.entries(INITIAL).map(([key, value]) => [key, Buffer.from(value, 'latin1')]));
  let pending: Uint8Array = new Uint8Array(0);
  let binary: boolean | undefined;
  let closed = false;
  return {
    onData(bytes, peer) {
      if (closed) return;
      pending = concat([pending, bytes]);
      binary ??= pending[0] === 0x80;
      const reading = readFrames(pending, binary);
      let used = 0;
      for (const frame of reading.frames) {
        if (frame.end > pending.length) break;
        const request = pending.subarray(frame.start, frame.end);
        if (binary) answerBinary(frame, request, store, peer);
        else answerText(frame, request, store, peer);
        used = frame.end;
        if (frame.serverStops) {
          closed = true;
          peer.end();
          return;
        }
      }
      pending = pending.slice(used);
    },
  };
}

function answerText(frame: ModelFrame, request: Uint8Array, store: Map<string, Buffer>, peer: UpstreamPeer): void {
  const lf = request.indexOf(0x0a);
  const line = Buffer.from(request.subarray(0, lf)).toString('latin1').replace(/\r$/, '');
  const tokens = line.split(' ').filter((token) => token !== '');
  const command = tokens[0] ?? '';
  const noreply = tokens[tokens.length - 1] === 'noreply';
  const quiet = tokens.slice(2).some((token) => token === 'q');
  const say = (text: string): void => {
    if (!noreply) peer.send(text);
  };
  if (frame.request === undefined) {
    peer.send(frame.filterClose === 'must' ? 'CLIENT_ERROR bad command line format\r\n' : 'ERROR\r\n');
    return;
  }
  const keys = (frame.request['keys'] as readonly string[] | undefined) ?? [];
  const data = request.subarray(lf + 1, Math.max(lf + 1, request.length - 2));
  switch (command) {
    case 'get':
    case 'gets':
    case 'gat':
    case 'gats':
    case 'bget': {
      const items = keys.filter((key) => store.has(key)).map((key) => `VALUE ${key} 0 ${store.get(key)?.length}${command.endsWith('s') ? ' 77' : ''}\r\n${store.get(key)?.toString('latin1')}\r\n`);
      peer.send(`${items.join('')}END\r\n`);
      return;
    }
    case 'set':
    case 'add':
    case 'replace':
    case 'append':
    case 'prepend':
    case 'cas':
      store.set(keys[0] ?? '', Buffer.from(data));
      say('STORED\r\n');
      return;
    case 'ms':
      store.set(keys[0] ?? '', Buffer.from(data));
      if (!quiet) peer.send('HD\r\n');
      return;
    case 'mg': {
      const value = store.get(keys[0] ?? '');
      if (value === undefined) {
        if (!quiet) peer.send('EN\r\n');
      } else peer.send(tokens.includes('v') ? `VA ${value.length}\r\n${value.toString('latin1')}\r\n` : 'HD\r\n');
      return;
    }
    case 'md':
    case 'ma':
      if (!quiet) peer.send(store.has(keys[0] ?? '') ? 'HD\r\n' : 'NF\r\n');
      return;
    case 'me':
      peer.send('EN\r\n');
      return;
    case 'mn':
      peer.send('MN\r\n');
      return;
    case 'version':
      peer.send('VERSION 1.6.18\r\n');
      return;
    case 'delete':
    case 'incr':
    case 'decr':
    case 'touch':
      say(store.has(keys[0] ?? '') ? (command === 'delete' ? 'DELETED\r\n' : command === 'touch' ? 'TOUCHED\r\n' : '1\r\n') : 'NOT_FOUND\r\n');
      return;
    case 'stats':
      peer.send('STAT pid 1\r\nSTAT version 1.6.18\r\nEND\r\n');
      return;
    default:
      say('OK\r\n');
  }
}

function answerBinary(frame: ModelFrame, request: Uint8Array, store: Map<string, Buffer>, peer: UpstreamPeer): void {
  const header = Buffer.from(request.subarray(0, 24));
  const opcode = header[1] as number;
  const opaque = header.readUInt32BE(12);
  const keyStart = 24 + (header[4] as number);
  const key = Buffer.from(request.subarray(keyStart, keyStart + header.readUInt16BE(2))).toString('latin1');
  const reply = (status: number, body: Buffer = Buffer.alloc(0), extras: Buffer = Buffer.alloc(0)): void => {
    const out = Buffer.alloc(24);
    out[0] = 0x81;
    out[1] = opcode;
    out[4] = extras.length;
    out.writeUInt16BE(status, 6);
    out.writeUInt32BE(extras.length + body.length, 8);
    out.writeUInt32BE(opaque, 12);
    peer.send(Buffer.concat([out, extras, body]));
  };
  if (frame.filterClose === 'must') {
    reply(0x04, Buffer.from('Invalid arguments'));
    return;
  }
  const quiet = [0x09, 0x0d, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, 0x19, 0x1a, 0x1e, 0x24].includes(opcode);
  switch (opcode) {
    case 0x00:
    case 0x09:
    case 0x0c:
    case 0x0d: {
      const value = store.get(key);
      if (value !== undefined) reply(0, value, Buffer.alloc(4));
      else if (!quiet) reply(0x01, Buffer.from('Not found'));
      return;
    }
    case 0x0a:
      reply(0);
      return;
    case 0x0b:
      reply(0, Buffer.from('1.6.18'));
      return;
    case 0x01:
    case 0x02:
    case 0x03:
    case 0x11:
    case 0x12:
    case 0x13:
    case 0x0e:
    case 0x0f:
    case 0x19:
    case 0x1a:
      store.set(key, Buffer.from(request.subarray(keyStart + key.length)));
      if (!quiet) reply(0);
      return;
    case 0x04:
    case 0x14:
    case 0x05:
    case 0x06:
    case 0x15:
    case 0x16:
    case 0x1c:
    case 0x1d:
    case 0x1e:
    case 0x23:
    case 0x24:
    case 0x08:
    case 0x18:
    case 0x10:
      if (!quiet) reply(store.has(key) || opcode === 0x08 || opcode === 0x10 ? 0 : 0x01);
      return;
    case 0x07:
    case 0x17:
      if (!quiet) reply(0);
      return;
    default:
      reply(0x81, Buffer.from('Unknown command'));
  }
}
