// Reads the recorded client sessions a protocol keeps under its folder (recordings/*.json, each
// `{ "sessions": [base64, ...] }` as a record-clients script writes them), in file order.
import fs from 'node:fs';
import path from 'node:path';

export function loadRecordings(directory: string): Uint8Array[] {
  return fs
    .readdirSync(directory)
    .filter((name) => name.endsWith('.json'))
    .sort()
    .flatMap((name) => (JSON.parse(fs.readFileSync(path.join(directory, name), 'utf8')) as { sessions: string[] }).sessions.map((text) => new Uint8Array(Buffer.from(text, 'base64'))));
}
