// Reads server-sent events from a byte stream (the `/v1/flows` response): yields each event's
// name and data once its blank line arrives. Comment lines (`: keepalive`) are skipped. Owns only
// the text/event-stream framing.

export interface ServerSentEvent {
  event: string;
  data: string;
}

export async function* readServerSentEvents(stream: AsyncIterable<Buffer | string>): AsyncGenerator<ServerSentEvent> {
  let pending = '';
  let event = 'message';
  let data: string[] = [];
  for await (const chunk of stream) {
    pending += typeof chunk === 'string' ? chunk : chunk.toString('utf8');
    let newline = pending.indexOf('\n');
    while (newline >= 0) {
      const line = pending.slice(0, newline).replace(/\r$/, '');
      pending = pending.slice(newline + 1);
      newline = pending.indexOf('\n');
      if (line === '') {
        if (data.length > 0) yield { event, data: data.join('\n') };
        event = 'message';
        data = [];
      } else if (!line.startsWith(':')) {
        const colon = line.indexOf(':');
        const field = colon < 0 ? line : line.slice(0, colon);
        const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
        if (field === 'event') event = value;
        else if (field === 'data') data.push(value);
      }
    }
  }
}
