/**
 * Exclusion for consumers, in one place.
 * - A name is held for the consumer's lifetime by its lease (`consumer.<name>.tmp.nodewal-lock.<n>.tmp`,
 *   src/lock/lease.ts: the scheme both backends honour across processes and PID namespaces, and
 *   which also refuses a second holder in this process), so two holders of one name are excluded.
 * - Creating and deleting cursor files runs under the registry lease (`consumers.lock`), held
 *   briefly (in-process: a promise chain per directory; across processes: the lease, retried until
 *   it is free), so a create cannot race a delete or another create of the same name.
 */
import * as path from 'node:path';
import { WalError, WalErrorCodes } from '../errors';
import type { IoBackend } from '../io/types';
import { fileSpot } from '../lock/directory';
import { Lease } from '../lock/lease';
import { DEFAULT_LOCK_OPTIONS } from '../lock/options';
import { cursorPath } from './cursor-file';

const REGISTRY = 'consumers.lock';
/** How long a registry change waits for another process's (brief) registry lease. */
const REGISTRY_WAIT_MS = 60_000;
const chains = new Map<string, Promise<unknown>>();

function isLocked(err: unknown): boolean {
  return err instanceof WalError && err.code === WalErrorCodes.LOCKED;
}

async function acquireRegistry(io: IoBackend, dir: string): Promise<Lease> {
  const deadline = performance.now() + REGISTRY_WAIT_MS;
  for (let pause = 2; ; pause = Math.min(pause * 2, 50)) {
    try {
      return await Lease.acquire(fileSpot(path.join(dir, REGISTRY)), { ...DEFAULT_LOCK_OPTIONS, io, what: 'the consumer registry' });
    } catch (err) {
      if (!isLocked(err) || performance.now() > deadline) throw err;
      await new Promise((resolve) => setTimeout(resolve, pause));
    }
  }
}

/** Runs `fn` holding the directory's consumer registry lease. */
export async function withRegistryLock<T>(io: IoBackend, dir: string, fn: () => Promise<T>): Promise<T> {
  const key = path.resolve(dir);
  const prev = chains.get(key) ?? Promise.resolve();
  const run = prev
    .catch(() => undefined)
    .then(async () => {
      const lease = await acquireRegistry(io, dir);
      try {
        return await fn();
      } finally {
        await lease.abandon(); // a short job: leaves the lease files as they were
      }
    });
  chains.set(key, run);
  try {
    return await run;
  } finally {
    if (chains.get(key) === run) chains.delete(key);
  }
}

/**
 * Holds consumer `name` of `dir` by its lease (`consumer.<name>.tmp.nodewal-lock.<n>.tmp`);
 * ERR_WAL_LOCKED when another holder, in this process or another, has it. Release when done.
 */
export async function holdName(io: IoBackend, dir: string, name: string): Promise<Lease> {
  const file = cursorPath(dir, name);
  try {
    return await Lease.acquire(fileSpot(file), { ...DEFAULT_LOCK_OPTIONS, io, what: `consumer '${name}'` });
  } catch (err) {
    if (isLocked(err)) throw new WalError(WalErrorCodes.LOCKED, `consumer '${name}' is held by another reader`, { file, cause: err });
    throw err;
  }
}
