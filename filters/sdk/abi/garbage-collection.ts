// When garbage is collected. Parser modules are built with AssemblyScript's `minimal` runtime
// (scripts/build-filters.mjs): unlike `incremental` it keeps no shadow stack of references, so
// small functions inline and a data callback costs about half as much, but it never collects by
// itself. exports.ts brackets every entry point Envoy calls with enterEntryPoint() and
// leaveEntryPoint(); when the outermost one returns no Wasm frame holds a reference, so a full
// collection is safe then (the minimal runtime does not scan the stack).
// When: after a number of entry points that grows with the heap (a collection visits every live
// object, so a bigger heap collects less often for the same cost per callback: 1,024 entry points
// plus 64 per 64 KiB page), and at once when Wasm memory grew since the last collection (a burst
// of garbage outran the count; collecting only on growth would let garbage fill each larger heap
// and double it again). The data path allocates nothing per request, so garbage comes from
// connections opening and closing, denials and policy updates. Host allocations nested in a host
// call (proxy_on_memory_allocate) are not entry points.
const ENTRY_POINTS_PER_COLLECTION: u32 = 1024;
const ENTRY_POINTS_PER_PAGE: u32 = 64;

let depth: u32 = 0;
let entryPointsSinceCollection: u32 = 0;
let pagesAtCollection: i32 = 0;

export function enterEntryPoint(): void {
  depth += 1;
}

export function leaveEntryPoint(): void {
  if (depth > 0) depth -= 1;
  if (depth != 0) return;
  entryPointsSinceCollection += 1;
  const pages = memory.size();
  if (pages <= pagesAtCollection && entryPointsSinceCollection < ENTRY_POINTS_PER_COLLECTION + ENTRY_POINTS_PER_PAGE * <u32>pages) return;
  __collect();
  entryPointsSinceCollection = 0;
  pagesAtCollection = memory.size();
}
