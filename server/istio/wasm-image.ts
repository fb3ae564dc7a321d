// A Weir module as an OCI image in the Wasm image format Istio pulls for `oci://` WasmPlugin URLs:
// the "compat" variant (solo-io/wasm spec-compat.md, read by pkg/wasm/imagefetcher.go in
// istio.io/istio): one `application/vnd.oci.image.layer.v1.tar+gzip` layer holding `plugin.wasm`.
// Written as an OCI image layout directory (oci-layout, index.json, blobs/sha256/...) that
// `skopeo copy oci:DIR:TAG docker://REGISTRY/NAME:TAG`, `oras cp --from-oci-layout` or `crane push`
// send to a registry. The bytes are deterministic (fixed tar header, gzip without a time stamp), so
// the manifest digest, which a WasmPlugin's `sha256` names for an oci:// URL, follows from the
// module alone: `weir istio manifests` computes it without building the image.
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { gzipSync } from 'node:zlib';

export const OCI_MEDIA_TYPES = {
  index: 'application/vnd.oci.image.index.v1+json',
  manifest: 'application/vnd.oci.image.manifest.v1+json',
  config: 'application/vnd.oci.image.config.v1+json',
  layer: 'application/vnd.oci.image.layer.v1.tar+gzip',
} as const;

/** The file name Istio looks for inside the layer. */
export const WASM_IMAGE_FILE = 'plugin.wasm';

export interface WasmImageBlob {
  readonly digest: string; // sha256:<hex>
  readonly mediaType: string;
  readonly bytes: Buffer;
}

export interface WasmImage {
  readonly manifest: WasmImageBlob;
  readonly config: WasmImageBlob;
  readonly layer: WasmImageBlob;
  /** The hex of the manifest digest: a WasmPlugin's `sha256` for this image's oci:// URL. */
  readonly manifestSha256: string;
}

/** The image for one module. Pure: the same module gives the same bytes. */
export function buildWasmImage(module: Uint8Array): WasmImage {
  const tar = tarOfOneFile(WASM_IMAGE_FILE, module);
  const layer = blob(OCI_MEDIA_TYPES.layer, gzipSync(tar, { level: 9 }));
  const config = blob(
    OCI_MEDIA_TYPES.config,
    Buffer.from(JSON.stringify({ architecture: 'wasm', os: 'wasip1', config: {}, rootfs: { type: 'layers', diff_ids: [sha256Digest(tar)] } })),
  );
  const manifest = blob(
    OCI_MEDIA_TYPES.manifest,
    Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: OCI_MEDIA_TYPES.manifest, config: descriptor(config), layers: [descriptor(layer)] })),
  );
  return { manifest, config, layer, manifestSha256: manifest.digest.slice('sha256:'.length) };
}

/** Writes `image` as an OCI image layout in `dir` (created if missing) with `tag` as its ref name. */
export function writeWasmImageLayout(dir: string, image: WasmImage, tag: string): void {
  const blobs = path.join(dir, 'blobs', 'sha256');
  fs.mkdirSync(blobs, { recursive: true });
  for (const item of [image.layer, image.config, image.manifest]) fs.writeFileSync(path.join(blobs, item.digest.slice('sha256:'.length)), item.bytes);
  fs.writeFileSync(path.join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  const index = {
    schemaVersion: 2,
    mediaType: OCI_MEDIA_TYPES.index,
    manifests: [{ ...descriptor(image.manifest), annotations: { 'org.opencontainers.image.ref.name': tag } }],
  };
  fs.writeFileSync(path.join(dir, 'index.json'), JSON.stringify(index));
}

function blob(mediaType: string, bytes: Buffer): WasmImageBlob {
  return { mediaType, bytes, digest: sha256Digest(bytes) };
}

function descriptor(item: WasmImageBlob): { mediaType: string; digest: string; size: number } {
  return { mediaType: item.mediaType, digest: item.digest, size: item.bytes.length };
}

function sha256Digest(bytes: Uint8Array): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

/** A ustar archive of one regular file (mode 0644, owner 0, time 0), padded to whole records. */
function tarOfOneFile(name: string, content: Uint8Array): Buffer {
  const header = Buffer.alloc(512);
  const field = (offset: number, length: number, value: string): void => void header.write(value, offset, length, 'ascii');
  const octal = (offset: number, length: number, value: number): void => field(offset, length, `${value.toString(8).padStart(length - 1, '0')}\0`);
  field(0, 100, name);
  octal(100, 8, 0o644);
  octal(108, 8, 0);
  octal(116, 8, 0);
  octal(124, 12, content.length);
  octal(136, 12, 0);
  field(148, 8, '        '); // checksum field counts as spaces while summing
  field(156, 1, '0');
  field(257, 6, 'ustar\0');
  field(263, 2, '00');
  let sum = 0;
  for (const byte of header) sum += byte;
  field(148, 8, `${sum.toString(8).padStart(6, '0')}\0 `);
  const padding = Buffer.alloc((512 - (content.length % 512)) % 512);
  return Buffer.concat([header, Buffer.from(content), padding, Buffer.alloc(1024)]);
}
