/**
 * The consumers of one open log (writable or read-only): creating and opening them under the
 * registry lock, listing and deleting them, their journal (the writer's main one, or a side
 * journal for a read-only open: commit-journal.ts), waking readers when the durable index moves,
 * and the truncateBack history they are checked against. Log and ReadOnlyLog delegate here.
 */
import { WalError, WalErrorCodes } from '../errors';
import type { IoBackend } from '../io/types';
import { CommitJournal } from './commit-journal';
import { Consumer, type ConsumerInfo, type ConsumerOptions, type ConsumerSource } from './consumer';
import { removeConsumer } from './consumer-admin';
import { holdName, withRegistryLock } from './consumer-lock';
import { checkConsumerName, cursorPath } from './cursor-file';
import { readStoredCursors, type JournalRecord } from './cursor-journal';
import { lowestCutSince, readTruncations, writeTruncations } from './truncation-history';

/** What the host needs from the log (the rest of ConsumerSource is the host's own). */
export interface HostedLog extends Pick<ConsumerSource, 'dir' | 'io' | 'id' | 'firstIndex' | 'durableIndex' | 'lagBytes' | 'openReader'> {
  /** True once the log is closed: waits end. */
  closed(): boolean;
  /** Read-only opens: re-read the writer's durable mark (see ConsumerSource.settle). */
  settle?(): Promise<void>;
  /** The writer: a truncateBack cut is durable in truncations.tmp; publish it before bytes change. */
  onCut?(to: number, cuts: number): void;
  /** A consumer hosted here made a commit durable. */
  onCommit?(): void;
  /** The writable Log (holding the directory lease): its consumers write the main journal. */
  writer?: boolean;
}

interface Waiter {
  index: number;
  done: () => void;
}

export class ConsumerHost implements ConsumerSource {
  private readonly open = new Map<string, Consumer>();
  private waiters: Waiter[] = [];
  private journal: Promise<CommitJournal> | null = null;
  readonly dir: string;
  readonly io: IoBackend;
  readonly id: string;

  private constructor(
    private readonly log: HostedLog,
    private cuts: number[],
  ) {
    this.dir = log.dir;
    this.io = log.io;
    this.id = log.id;
  }

  static async create(log: HostedLog): Promise<ConsumerHost> {
    return new ConsumerHost(log, await readTruncations(log.io, log.dir));
  }

  firstIndex(): number {
    return this.log.firstIndex();
  }
  durableIndex(): number {
    return this.log.durableIndex();
  }
  lagBytes(afterIndex: number): number {
    return this.log.lagBytes(afterIndex);
  }
  settle(): Promise<void> {
    return this.log.settle?.() ?? Promise.resolve();
  }
  get openReader(): ConsumerSource['openReader'] {
    return this.log.openReader;
  }
  truncationsSince(since: number): { count: number; lowest: number | null } {
    return { count: this.cuts.length, lowest: lowestCutSince(this.cuts, since) };
  }

  waitDurable(index: number, timeoutMs: number, signal: AbortSignal | undefined): Promise<void> {
    if (this.log.durableIndex() >= index || this.log.closed()) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const finish = (): void => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', finish);
        this.waiters = this.waiters.filter((w) => w !== waiter);
        resolve();
      };
      const waiter: Waiter = { index, done: finish };
      const timer = setTimeout(finish, timeoutMs);
      signal?.addEventListener('abort', finish, { once: true });
      this.waiters.push(waiter);
    });
  }

  /** The durable index moved (or the log closed): wake the readers it satisfies. */
  onDurable(): void {
    if (this.waiters.length === 0) return;
    const d = this.log.durableIndex();
    const closed = this.log.closed();
    for (const w of [...this.waiters]) if (closed || w.index <= d) w.done();
  }

  /** This host's journal, opened at first use (the writer's main journal, else a free side journal). */
  private ownJournal(): Promise<CommitJournal> {
    this.journal ??= (this.log.writer === true ? CommitJournal.openMain : CommitJournal.openSide)(this.io, this.dir, this.id);
    const j = this.journal;
    j.catch(() => {
      if (this.journal === j) this.journal = null;
    });
    return j;
  }

  /** Opens (creating if needed) the consumer `name`; ERR_WAL_LOCKED when it is held elsewhere. */
  async consumer(name: string, opts: ConsumerOptions = {}): Promise<Consumer> {
    checkConsumerName(name);
    if (opts === null || typeof opts !== 'object') throw new WalError(WalErrorCodes.INVALID_ARGUMENT, 'consumer options must be an object');
    const start = opts.start ?? 'oldest';
    if (start !== 'oldest' && start !== 'newest' && (typeof start !== 'bigint' || start < 0n)) {
      throw new WalError(WalErrorCodes.INVALID_ARGUMENT, `consumer start must be 'oldest', 'newest' or an index, got ${String(start)}`);
    }
    const file = cursorPath(this.dir, name);
    if (this.open.has(name)) throw new WalError(WalErrorCodes.LOCKED, `consumer '${name}' is already open`, { file });
    return withRegistryLock(this.io, this.dir, async () => {
      // Held before its state is read: no other holder can write a record of it meanwhile.
      const lease = await holdName(this.io, this.dir, name);
      try {
        const journal = await this.ownJournal();
        const { cursors, corrupt } = await readStoredCursors(this.io, this.dir, this.id);
        const bad = corrupt.get(name);
        if (bad !== undefined) throw bad;
        let state: JournalRecord | undefined = cursors.get(name);
        if (state === undefined || state.kind === 'deleted') {
          // A read-only open learns the front by polling: read it fresh (truncateFront publishes it under this lock).
          await this.log.settle?.();
          const committed =
            start === 'oldest' ? this.log.firstIndex() - 1 : start === 'newest' ? this.log.durableIndex() : Math.max(0, Number(start) - 1);
          const created: JournalRecord = {
            kind: 'position',
            name,
            epoch: 0,
            // Above a deletion record, so the new consumer outranks the deleted one everywhere.
            seq: (state?.seq ?? 0n) + 1n,
            committed: BigInt(committed),
            lastCommitAt: 0,
            truncations: this.cuts.length,
            logId: this.id,
          };
          await journal.write(name, { make: () => created, durable: () => undefined, twice: true });
          state = created;
        }
        // Checked again: another opener in this process may have won while we waited for the lock.
        if (this.open.has(name)) throw new WalError(WalErrorCodes.LOCKED, `consumer '${name}' is already open`, { file });
        const store = {
          path: journal.path,
          write: (e: Parameters<CommitJournal['write']>[1]) => journal.write(name, e),
          release: () => lease.release(),
        };
        const c = new Consumer(name, this, store, state, {
          released: (x) => this.open.get(name) === x && this.open.delete(name),
          committed: () => this.log.onCommit?.(),
        });
        this.open.set(name, c);
        return c;
      } catch (err) {
        await lease.release();
        throw err;
      }
    });
  }

  /** Runs `fn` under the registry lock (truncateFront: guard and front move, against consumer creation). */
  underRegistryLock<T>(fn: () => Promise<T>): Promise<T> {
    return withRegistryLock(this.io, this.dir, fn);
  }

  /** Every consumer of the directory, with its durable position (and live delivery for those open here). */
  async list(): Promise<ConsumerInfo[]> {
    const { cursors, corrupt } = await readStoredCursors(this.io, this.dir, this.id);
    for (const err of corrupt.values()) throw err;
    const out: ConsumerInfo[] = [];
    for (const s of [...cursors.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
      if (s.kind !== 'position') continue;
      const live = this.open.get(s.name);
      if (live !== undefined) {
        out.push(live.info());
        continue;
      }
      const committed = Number(s.committed);
      out.push({
        name: s.name,
        committed: s.committed,
        delivered: s.committed,
        lagRecords: BigInt(Math.max(0, this.log.durableIndex() - committed)),
        lagBytes: this.log.lagBytes(committed),
        lastCommitAt: s.lastCommitAt > 0 ? new Date(s.lastCommitAt) : null,
      });
    }
    return out;
  }

  /** Deletes a consumer durably (a deletion record); ERR_WAL_LOCKED while it is open anywhere. */
  async delete(name: string): Promise<void> {
    checkConsumerName(name);
    if (this.open.has(name)) throw new WalError(WalErrorCodes.LOCKED, `consumer '${name}' is open; close it first`);
    await removeConsumer(this.io, this.dir, name, await this.ownJournal());
  }

  /**
   * The durable committed position of every consumer, read from the journals after an fdatasync
   * of each (a commit in flight in another process may be in the page cache only).
   */
  async durableCommits(): Promise<{ name: string; committed: number }[]> {
    const { cursors, corrupt } = await readStoredCursors(this.io, this.dir, this.id, true);
    for (const err of corrupt.values()) throw err;
    const out: { name: string; committed: number }[] = [];
    for (const s of cursors.values()) if (s.kind === 'position') out.push({ name: s.name, committed: Number(s.committed) });
    return out;
  }

  /** Before truncateBack(to) changes a byte: make the cut durable, then tell the open consumers. */
  async beforeTruncateBack(to: number): Promise<void> {
    const cuts = [...this.cuts, to];
    await writeTruncations(this.io, this.dir, cuts);
    this.cuts = cuts;
    this.log.onCut?.(to, cuts.length);
    for (const c of this.open.values()) c.truncatedBack(to);
  }

  /** A cut made by the writer in another process (read-only hosts learn them by polling). */
  adoptCuts(cuts: number[]): void {
    const since = this.cuts.length;
    if (cuts.length <= since) return;
    const low = lowestCutSince(cuts, since)!;
    for (const c of this.open.values()) c.truncatedBack(low);
    this.cuts = cuts;
  }

  get cutCount(): number {
    return this.cuts.length;
  }

  /** Closes every consumer open here (the log is closing). */
  async closeAll(): Promise<void> {
    await Promise.all([...this.open.values()].map((c) => c.close()));
    const j = this.journal;
    this.journal = null;
    if (j !== null) await (await j.catch(() => null))?.close();
    this.onDurable();
  }
}
