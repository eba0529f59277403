/**
 * Backups made before repair cuts anything: a durable copy next to the original, never
 * overwriting an earlier backup (an existing `<name>.broken` is kept under a numbered name).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { defaultBackend } from '../io/backend';

/** A free name for a backup of `file`: `<file>.broken`, else `<file>.broken.1`, `.2`, ... */
export function backupName(file: string): string {
  let name = `${file}.broken`;
  for (let i = 1; fs.existsSync(name); i++) name = `${file}.broken.${i}`;
  return name;
}

/**
 * Moves an existing `<file>.broken` aside (to the next free numbered name) so that a repair that
 * writes `<file>.broken` itself (etcd's) cannot overwrite an earlier backup. Returns the new name.
 */
export function moveAsideOldBackup(file: string): string | null {
  const old = `${file}.broken`;
  if (!fs.existsSync(old)) return null;
  let i = 1;
  while (fs.existsSync(`${old}.${i}`)) i++;
  fs.renameSync(old, `${old}.${i}`);
  return `${old}.${i}`;
}

/** Copies `file` to `dest` (which must not exist) and makes the copy and its directory entry durable. */
export async function durableCopy(file: string, dest: string): Promise<void> {
  fs.copyFileSync(file, dest, fs.constants.COPYFILE_EXCL);
  const fd = fs.openSync(dest, 'r');
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  await defaultBackend.fsyncDir(path.dirname(dest));
}
