// Where the real-server installers and runners keep things: the repository root, the gitignored
// state folder `.weir/` (downloads, install markers) and the project virtualenv `.venv/`.
// Knows paths only; creates nothing.
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const projectRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const weirStateDir = path.join(projectRoot, '.weir');
export const projectVenv = path.join(projectRoot, '.venv');
