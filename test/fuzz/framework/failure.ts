// How a failing fuzz case is reported: the seed that replays it alone (`--case-seed`), what it
// was (policy, client, cuts), what went wrong, and its bytes as hex and as escaped text, so that a
// person can rerun it and read it without the fuzzer.
import { describeChunking } from '../../../server/wasm-host/index.ts';
import type { HostCase } from './host-check.ts';

export interface FuzzFailure {
  readonly runSeed: number;
  readonly caseIndex: number;
  readonly caseSeed: number;
  readonly description: string;
  readonly violations: readonly string[];
  readonly bytes: Uint8Array;
}

export function describeCase(testCase: HostCase): string {
  return `policy ${testCase.policy.reference.spec.name}, client ${testCase.client.app} (${testCase.client.ip}), ${describeChunking(testCase.chunking)}${testCase.clientFin ? ', client FIN' : ''}`;
}

/** A failure as text: how to replay it, what failed, the bytes. */
export function formatFailure(failure: FuzzFailure, replay: string): string {
  return [
    `FAIL case ${failure.caseIndex} of run seed ${failure.runSeed} (case seed ${failure.caseSeed}): ${failure.description}`,
    `  replay: ${replay} --case-seed ${failure.caseSeed}`,
    ...failure.violations.map((violation) => `  - ${violation}`),
    `  bytes (${failure.bytes.length}): ${escapedText(failure.bytes, 400)}`,
    `  hex: ${hexDump(failure.bytes, 400)}`,
  ].join('\n');
}

/** Bytes as a JS-style string literal body: printable ASCII as is, the rest escaped. */
export function escapedText(bytes: Uint8Array, limit = Infinity): string {
  let text = '';
  for (const byte of bytes.subarray(0, limit)) {
    if (byte === 0x0d) text += '\\r';
    else if (byte === 0x0a) text += '\\n';
    else if (byte === 0x5c) text += '\\\\';
    else if (byte >= 0x20 && byte < 0x7f) text += String.fromCharCode(byte);
    else text += `\\x${byte.toString(16).padStart(2, '0')}`;
  }
  return bytes.length > limit ? `${text}... (${bytes.length - limit} more)` : text;
}

export function hexDump(bytes: Uint8Array, limit = Infinity): string {
  const hex = Buffer.from(bytes.subarray(0, limit)).toString('hex');
  return bytes.length > limit ? `${hex}... (${bytes.length - limit} more)` : hex;
}
