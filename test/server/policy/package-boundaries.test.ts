// policy/, identity/ and store/ must stay free of gRPC and of the xDS layer (STYLE.md §1).
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const serverDir = fileURLToPath(new URL('../../../server/', import.meta.url));

function sourceFiles(directory: string): string[] {
  return readdirSync(directory).flatMap((name) => {
    const path = join(directory, name);
    return statSync(path).isDirectory() ? sourceFiles(path) : path.endsWith('.ts') ? [path] : [];
  });
}

describe('package boundaries', () => {
  it.each(['policy', 'identity', 'store'])('server/%s imports neither @grpc nor server/xds', (name) => {
    const files = sourceFiles(join(serverDir, name));
    expect(files.length).toBeGreaterThan(0);
    const offending = files.filter((file) => /from\s+['"](@grpc\/|[./]+\/xds\/)/.test(readFileSync(file, 'utf8')));
    expect(offending).toEqual([]);
  });
});
