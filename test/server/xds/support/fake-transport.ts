// A scripted xDS stream for unit tests: the test plays the proxy (request), reads what the server
// sent (responses), and sees how the server ended the stream (failure).
import type { PeerCertificateFacts } from '../../../../server/pki/peer-authenticator.ts';
import type { XdsStreamTransport, StreamStatus } from '../../../../server/xds/discovery-messages.ts';

export class FakeTransport<Request, Response> implements XdsStreamTransport<Request, Response> {
  readonly responses: Response[] = [];
  failure: { status: StreamStatus; message: string } | undefined;
  #requestListener: ((request: Request) => void) | undefined;
  #closeListeners: Array<() => void> = [];

  constructor(
    readonly peer = 'ipv4:127.0.0.1:40000',
    readonly peerCertificate: PeerCertificateFacts | undefined = undefined,
  ) {}

  send(response: Response): void {
    this.responses.push(response);
  }

  fail(status: StreamStatus, message: string): void {
    this.failure = { status, message };
  }

  onRequest(listener: (request: Request) => void): void {
    this.#requestListener = listener;
  }

  onClose(listener: () => void): void {
    this.#closeListeners.push(listener);
  }

  /** The proxy sends a request. */
  request(request: Request): void {
    if (!this.#requestListener) throw new Error('stream not served yet');
    this.#requestListener(request);
  }

  /** The proxy goes away. */
  disconnect(): void {
    for (const listener of this.#closeListeners) listener();
  }

  lastResponse(): Response {
    const last = this.responses.at(-1);
    if (last === undefined) throw new Error('the server has sent nothing');
    return last;
  }
}
