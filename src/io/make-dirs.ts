/**
 * Creates a directory and its missing parents (mode 0700) so that they survive power loss: each new
 * directory's entry is made durable by fsyncing the directory that holds it, top down.
 */
import * as path from 'node:path';
import type { IoBackend } from './types';

export async function makeDirsDurably(io: IoBackend, dir: string): Promise<void> {
  const missing: string[] = [];
  for (let d = path.resolve(dir); ; d = path.dirname(d)) {
    try {
      await io.stat(d);
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT' || path.dirname(d) === d) throw err;
      missing.push(d);
    }
  }
  if (missing.length === 0) return;
  await io.mkdir(dir, 0o700);
  for (const d of missing.reverse()) await io.fsyncDir(path.dirname(d));
}
