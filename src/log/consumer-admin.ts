/**
 * Offline administration of consumers, for `wal consumer` and ConsumerHost: listing them, deleting
 * one and resetting one to an index. Each change takes the registry lock and the name's lease, so
 * it refuses a consumer that is open anywhere (ERR_WAL_LOCKED), and goes into a journal as a
 * record that outranks every earlier one (the host's own journal, or a side journal for the CLI).
 */
import * as path from 'node:path';
import { WalError, WalErrorCodes } from '../errors';
import type { IoBackend } from '../io/types';
import { CommitJournal } from './commit-journal';
import { holdName, withRegistryLock } from './consumer-lock';
import { checkConsumerName, cursorPath } from './cursor-file';
import { readStoredCursors, type JournalRecord } from './cursor-journal';
import { readTruncations } from './truncation-history';

/** A consumer as its stored records say (no log needed): position and last commit, or why it is unreadable. */
export interface StoredConsumer {
  name: string;
  committed: bigint | null;
  lastCommitAt: Date | null;
  error: WalError | null;
}

export async function listStoredConsumers(io: IoBackend, dir: string, logId: string | null): Promise<StoredConsumer[]> {
  let stored;
  try {
    stored = await readStoredCursors(io, dir, logId);
  } catch (err) {
    // A journal of another log: no consumer of it can be trusted; report the file.
    if (!(err instanceof WalError) || err.file === undefined) throw err;
    return [{ name: path.basename(err.file), committed: null, lastCommitAt: null, error: err }];
  }
  const out: StoredConsumer[] = [];
  for (const s of stored.cursors.values()) {
    if (s.kind !== 'position') continue;
    out.push({ name: s.name, committed: s.committed, lastCommitAt: s.lastCommitAt > 0 ? new Date(s.lastCommitAt) : null, error: null });
  }
  for (const [name, error] of stored.corrupt) out.push({ name, committed: null, lastCommitAt: null, error });
  return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/**
 * Runs `fn` on consumer `name` under the registry lock and the name's lease, with its ruling
 * record (null when only a damaged cursor file of an earlier version holds it) and a journal to
 * write to (`journal`, or a side journal opened for this change). ERR_WAL_CONSUMER_NOT_FOUND when
 * there is no such consumer. Afterwards an earlier version's cursor file of the name is removed:
 * the journal record now rules, and a damaged old file must not outlive a reset.
 */
async function changeConsumer<T>(
  io: IoBackend,
  dir: string,
  name: string,
  logId: string | null,
  journal: CommitJournal | undefined,
  fn: (j: CommitJournal, current: JournalRecord | null) => Promise<T>,
): Promise<T> {
  checkConsumerName(name);
  const file = cursorPath(dir, name);
  return withRegistryLock(io, dir, async () => {
    const lease = await holdName(io, dir, name);
    try {
      const { cursors, corrupt } = await readStoredCursors(io, dir, logId);
      const s = cursors.get(name);
      const current = s !== undefined && s.kind === 'position' ? s : null;
      if (current === null && !corrupt.has(name)) throw new WalError(WalErrorCodes.CONSUMER_NOT_FOUND, `no consumer '${name}'`, { file });
      const j = journal ?? (await CommitJournal.openSide(io, dir, logId));
      let out: T;
      try {
        out = await fn(j, current);
      } finally {
        if (journal === undefined) await j.close();
      }
      if ((await io.readdir(dir)).includes(path.basename(file))) {
        await io.unlink(file);
        await io.fsyncDir(dir);
      }
      return out;
    } finally {
      await lease.release();
    }
  });
}

/** The seq a new record of a name must have to outrank everything stored for it. */
function nextSeq(current: JournalRecord | null): bigint {
  // A damaged old cursor file's seq is unknown: it is removed right after, so any seq will do.
  return (current?.seq ?? 0n) + 1n;
}

/** Deletes consumer `name` durably; ERR_WAL_CONSUMER_NOT_FOUND, ERR_WAL_LOCKED while it is open. */
export async function removeConsumer(io: IoBackend, dir: string, name: string, journal?: CommitJournal): Promise<void> {
  await changeConsumer(io, dir, name, null, journal, async (j, current) => {
    // Only a damaged cursor file of an earlier version: no journal holds the name; removing the file is the deletion.
    if (current === null) return;
    const tomb: JournalRecord = {
      kind: 'deleted',
      name,
      epoch: 0,
      seq: nextSeq(current),
      committed: current.committed,
      lastCommitAt: Date.now(),
      truncations: current.truncations,
      logId: current.logId,
    };
    await j.write(name, { make: () => tomb, durable: () => undefined, twice: true });
  });
}

/**
 * Sets consumer `name`'s committed position to `index` (it next delivers index + 1), durably; also
 * clears a pending truncateBack report (the reset is the acknowledgement). A consumer whose only
 * state is a damaged cursor file of an earlier version is reset too. The caller checks `index`
 * against the log.
 */
export async function resetConsumer(
  io: IoBackend,
  dir: string,
  name: string,
  index: bigint,
  logId: string,
  journal?: CommitJournal,
): Promise<{ before: bigint | null }> {
  return changeConsumer(io, dir, name, logId, journal, async (j, current) => {
    const truncations = (await readTruncations(io, dir)).length;
    const next: JournalRecord = {
      kind: 'position',
      name,
      epoch: 0,
      seq: nextSeq(current),
      committed: index,
      lastCommitAt: Date.now(),
      truncations,
      logId,
    };
    await j.write(name, { make: () => next, durable: () => undefined, twice: true });
    return { before: current?.committed ?? null };
  });
}
