// Forwarder for the parsers' entry files that still import the module exports here; they live in
// ../module/exports.ts. Removed once every filters/parsers/<name>/index.ts imports that path.
export * from '../module/exports';
