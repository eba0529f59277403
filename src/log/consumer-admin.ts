/**
 * Offline administration of consumers, for `wal consumer` and ConsumerHost: listing cursor files,
 * deleting one and resetting one to an index. Each takes the registry lock and the name's lock,
 * so it refuses a consumer that is open anywhere (ERR_WAL_LOCKED).
 */
import { WalError, WalErrorCodes } from '../errors';
import type { IoBackend } from '../io/types';
import { holdCursor, withRegistryLock } from './consumer-lock';
import { checkConsumerName, consumerNames, cursorPath, readCursor, readCursorFile, writeCursor, type CursorState } from './cursor-file';
import { readTruncations } from './truncation-history';

/** A consumer as its cursor file says (no log needed): position and last commit, or why it is unreadable. */
export interface StoredConsumer {
  name: string;
  committed: bigint | null;
  lastCommitAt: Date | null;
  error: WalError | null;
}

export async function listStoredConsumers(io: IoBackend, dir: string, logId: string | null): Promise<StoredConsumer[]> {
  const out: StoredConsumer[] = [];
  for (const name of consumerNames(await io.readdir(dir))) {
    try {
      const s = await readCursorFile(io, cursorPath(dir, name), logId);
      out.push({ name, committed: s.committed, lastCommitAt: s.lastCommitAt > 0 ? new Date(s.lastCommitAt) : null, error: null });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue;
      if (!(err instanceof WalError)) throw err;
      out.push({ name, committed: null, lastCommitAt: null, error: err });
    }
  }
  return out;
}

async function exists(io: IoBackend, dir: string, name: string): Promise<boolean> {
  return (await io.readdir(dir)).includes(`consumer.${name}.tmp`);
}

/** Deletes consumer `name` durably; ERR_WAL_CONSUMER_NOT_FOUND, ERR_WAL_LOCKED while it is open. */
export async function removeConsumer(io: IoBackend, dir: string, name: string): Promise<void> {
  checkConsumerName(name);
  const file = cursorPath(dir, name);
  await withRegistryLock(io, dir, async () => {
    if (!(await exists(io, dir, name))) throw new WalError(WalErrorCodes.CONSUMER_NOT_FOUND, `no consumer '${name}'`, { file });
    const f = await holdCursor(io, file, name);
    try {
      await io.unlink(file);
      await io.fsyncDir(dir);
    } finally {
      await f.close();
    }
  });
}

/**
 * Sets consumer `name`'s committed position to `index` (it next delivers index + 1), durably; also
 * clears a pending truncateBack report (the reset is the acknowledgement). A damaged cursor file
 * is rewritten whole. The caller checks `index` against the log.
 */
export async function resetConsumer(
  io: IoBackend,
  dir: string,
  name: string,
  index: bigint,
  logId: string,
): Promise<{ before: bigint | null }> {
  checkConsumerName(name);
  const file = cursorPath(dir, name);
  return withRegistryLock(io, dir, async () => {
    if (!(await exists(io, dir, name))) throw new WalError(WalErrorCodes.CONSUMER_NOT_FOUND, `no consumer '${name}'`, { file });
    const f = await holdCursor(io, file, name);
    try {
      let prev: CursorState | null = null;
      try {
        prev = await readCursor(io, f, logId);
      } catch (err) {
        if (!(err instanceof WalError && err.code === WalErrorCodes.CONSUMER_CORRUPT)) throw err;
      }
      const truncations = (await readTruncations(io, dir)).length;
      const next: CursorState = { seq: (prev?.seq ?? 0n) + 1n, committed: index, lastCommitAt: Date.now(), truncations, logId };
      if (prev === null) {
        // Neither slot valid: write both, so no stale slot can ever win.
        await writeCursor(io, f, next);
        await writeCursor(io, f, { ...next, seq: next.seq + 1n });
      } else await writeCursor(io, f, next);
      return { before: prev?.committed ?? null };
    } finally {
      await f.close();
    }
  });
}
