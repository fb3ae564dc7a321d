// Keeps the layout of Node's stream write requests alive between pushes.
//
// Node makes one WriteWrap object per stream write (lib/internal/stream_base_commons.js,
// createWriteWrap) and gives it six properties, each step a new V8 hidden class (map). V8's
// optimized code for the write path (createWriteWrap, writeGeneric, Writable's writeOrBuffer,
// the HTTP/2 stream's _write) holds those maps weakly. After a push every WriteWrap is gone, so
// the next full collection frees the maps and throws that code away ("weak objects" in
// --trace-deopt), and TurboFan compiled it again during the next push: at 1,000 streams about a
// quarter of the server's CPU per change (docs/benchmarks.md). One long-lived object built the
// same way shares those maps and keeps them, so the code survives.
//
// WriteWrap is only reachable through process.binding, which Node still serves for this module
// (DEP0111 is documentation-only). Where it is missing, or a Node builds its write requests in
// another order, nothing breaks: the anchor just no longer shares the maps, and the cost is back.
// test/server/xds/write-request-shape.test.ts checks that it still does on the Node in use.

type WriteWrapConstructor = new () => Record<string, unknown>;

let anchor: Record<string, unknown> | undefined;
let attempted = false;

/**
 * Creates the long-lived write request once per process (later calls return the same one).
 * Returns it, or undefined where Node does not expose WriteWrap.
 */
export function keepWriteRequestShape(): object | undefined {
  if (attempted) return anchor;
  attempted = true;
  const WriteWrap = writeWrapConstructor();
  if (!WriteWrap) return undefined;
  const request = new WriteWrap();
  // The order and the kinds of value of Node 20's createWriteWrap: a handle object, the
  // completion function, a boolean, a small integer, null, the caller's callback.
  request.handle = {};
  request.oncomplete = noop;
  request.async = false;
  request.bytes = 0;
  request.buffer = null;
  request.callback = noop;
  anchor = request;
  return anchor;
}

function writeWrapConstructor(): WriteWrapConstructor | undefined {
  const binding = (process as { binding?: (name: string) => unknown }).binding;
  if (typeof binding !== 'function') return undefined;
  try {
    const streamWrap = binding.call(process, 'stream_wrap') as { WriteWrap?: unknown } | undefined;
    return typeof streamWrap?.WriteWrap === 'function' ? (streamWrap.WriteWrap as WriteWrapConstructor) : undefined;
  } catch {
    // A Node that refuses the binding (or warns it into an error under --throw-deprecation).
    return undefined;
  }
}

function noop(): void {}
