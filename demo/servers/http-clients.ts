// The HTTP command-line programs tests and benchmarks run as real clients, from Debian: curl
// (HTTP policy tests; set-up step `curl`) and h2load from nghttp2-client (`npm run bench:http`;
// set-up profile `bench:http`). scripts/setup.ts installs them with installDebianPackages.
export const CURL_BINARY = '/usr/bin/curl';
export const H2LOAD_BINARY = '/usr/bin/h2load';
