// The server behind tcp_proxy in a host test. A FakeUpstream sees every byte tcp_proxy forwards and
// answers through an UpstreamPeer; answers arrive at the filter as later upstream reads, as over a
// real socket. Ready-made scripts: a line responder (answer per CRLF line), echo, and silence.
import { toBytes, toLatin1 } from './envoy-buffer.ts';

export interface UpstreamPeer {
  send(bytes: Uint8Array | string): void; // bytes from the server toward the client
  end(): void; // the server half-closes (FIN)
  reset(): void; // the server resets the connection
}

export interface FakeUpstream {
  onConnect?(peer: UpstreamPeer): void;
  onData?(bytes: Uint8Array, peer: UpstreamPeer): void;
  // The client's FIN reached the server. Without this hook the server answers with its own FIN.
  onEnd?(peer: UpstreamPeer): void;
}

// Answers each complete CRLF-terminated line (given without its CRLF) with what `answer` returns.
export function lineResponder(answer: (line: string) => string | Uint8Array): FakeUpstream & { lines: string[] } {
  let pending = '';
  const lines: string[] = [];
  return {
    lines,
    onData(bytes, peer) {
      pending += toLatin1(bytes);
      for (let end = pending.indexOf('\r\n'); end >= 0; end = pending.indexOf('\r\n')) {
        const line = pending.slice(0, end);
        pending = pending.slice(end + 2);
        lines.push(line);
        peer.send(toBytes(answer(line)));
      }
    },
  };
}

export function echoUpstream(): FakeUpstream {
  return { onData: (bytes, peer) => peer.send(bytes.slice()) };
}

export function silentUpstream(): FakeUpstream {
  return {};
}
