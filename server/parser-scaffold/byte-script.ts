// The byte-script format of `weir parser test` (docs/writing-a-parser.md, "Byte scripts"): one
// step per line, `client: <bytes>` or `server: <bytes>` (what that peer writes), `client: <end>` /
// `server: <end>` (half-close), `config: <json>` (plugin configuration, before the first step),
// `# comment` and blank lines. Bytes are taken literally after "<peer>: " with escapes \r \n \t
// \0 \\ and \xHH; trailing spaces count. Parsing only: running is script-runner.ts.

export type ScriptStep =
  | { kind: 'write'; peer: 'client' | 'server'; bytes: Uint8Array; line: number }
  | { kind: 'end'; peer: 'client' | 'server'; line: number };

export interface ByteScript {
  configuration: string | undefined;
  steps: ScriptStep[];
}

export class ByteScriptError extends Error {}

const STEP = /^(client|server|config):(?: (.*))?$/;

export function parseByteScript(text: string, fileName: string): ByteScript {
  const script: ByteScript = { configuration: undefined, steps: [] };
  text.split('\n').forEach((rawLine, index) => {
    const line = rawLine.endsWith('\r') ? rawLine.slice(0, -1) : rawLine;
    const where = `${fileName}:${index + 1}`;
    if (line.trim() === '' || line.trimStart().startsWith('#')) return;
    const match = STEP.exec(line);
    if (match === null) throw new ByteScriptError(`${where}: expected "client: <bytes>", "server: <bytes>" or "config: <json>", got ${JSON.stringify(line)}`);
    const [, keyword, body = ''] = match;
    if (keyword === 'config') {
      if (script.steps.length > 0) throw new ByteScriptError(`${where}: config must come before the first client/server line`);
      script.configuration = body;
      return;
    }
    const peer = keyword as 'client' | 'server';
    if (body === '<end>') script.steps.push({ kind: 'end', peer, line: index + 1 });
    else script.steps.push({ kind: 'write', peer, bytes: unescapeBytes(body, where), line: index + 1 });
  });
  return script;
}

export function unescapeBytes(text: string, where: string): Uint8Array {
  const bytes: number[] = [];
  for (let i = 0; i < text.length; i++) {
    const char = text.charCodeAt(i);
    if (char > 0xff) throw new ByteScriptError(`${where}: character ${JSON.stringify(text[i])} is not a byte; write it as \\xHH escapes`);
    if (text[i] !== '\\') {
      bytes.push(char);
      continue;
    }
    const next = text[i + 1];
    i++;
    if (next === 'r') bytes.push(0x0d);
    else if (next === 'n') bytes.push(0x0a);
    else if (next === 't') bytes.push(0x09);
    else if (next === '0') bytes.push(0x00);
    else if (next === '\\') bytes.push(0x5c);
    else if (next === 'x' && /^[0-9a-fA-F]{2}$/.test(text.slice(i + 1, i + 3))) {
      bytes.push(Number.parseInt(text.slice(i + 1, i + 3), 16));
      i += 2;
    } else throw new ByteScriptError(`${where}: unknown escape "\\${next ?? ''}"; use \\r \\n \\t \\0 \\\\ or \\xHH`);
  }
  return Uint8Array.from(bytes);
}
