/**
 * Exclusion for consumers, in one place so it can be swapped for the directory lease of src/io.
 * - A name is held by locking its cursor file for the consumer's lifetime (native: an OFD lock,
 *   which also excludes a second open in the same process; fallback: the `<file>.lock` pid file),
 *   so two holders of one name are excluded in-process and across processes on both backends.
 * - Creating and deleting cursor files runs under the registry lock, `consumers.lock.tmp`, held
 *   briefly (in-process: a promise chain per directory; across processes: a waiting lock), so a
 *   create cannot race a delete or another create of the same name into two files.
 */
import * as path from 'node:path';
import { WalError, WalErrorCodes } from '../errors';
import type { IoBackend, WalFile } from '../io/types';

const REGISTRY_LOCK = 'consumers.lock.tmp';
const chains = new Map<string, Promise<unknown>>();

/** Runs `fn` holding the directory's consumer registry lock. */
export async function withRegistryLock<T>(io: IoBackend, dir: string, fn: () => Promise<T>): Promise<T> {
  const key = path.resolve(dir);
  const prev = chains.get(key) ?? Promise.resolve();
  const run = prev.catch(() => undefined).then(async () => {
    const f = await io.open(path.join(dir, REGISTRY_LOCK), { read: true, write: true, create: true });
    try {
      await f.lock({ wait: true });
      return await fn();
    } finally {
      await f.close();
    }
  });
  chains.set(key, run);
  try {
    return await run;
  } finally {
    if (chains.get(key) === run) chains.delete(key);
  }
}

/** Opens a cursor file read-write and takes its lock; ERR_WAL_LOCKED when another holder has it. */
export async function holdCursor(io: IoBackend, file: string, name: string): Promise<WalFile> {
  const f = await io.open(file, { read: true, write: true });
  try {
    await f.lock({ wait: false });
  } catch (err) {
    await f.close().catch(() => undefined);
    if ((err as NodeJS.ErrnoException).code === 'EAGAIN') {
      throw new WalError(WalErrorCodes.LOCKED, `consumer '${name}' is held by another reader`, { file, cause: err });
    }
    throw err;
  }
  return f;
}
