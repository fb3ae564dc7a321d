// Entry point of http.wasm: Weir's HTTP filter (Cilium's HTTP rules, enforced in Envoy's HTTP
// connection manager). Not a parser: Envoy parses HTTP/1.1 and HTTP/2; see README.md.
export * from './exports';
