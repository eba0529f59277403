/**
 * The consumers of one open log (writable or read-only): creating and opening them under the
 * registry lock, listing and deleting cursor files, waking readers when the durable index moves,
 * and the truncateBack history they are checked against. Log and ReadOnlyLog delegate here.
 */
import { WalError, WalErrorCodes } from '../errors';
import type { IoBackend } from '../io/types';
import { Consumer, type ConsumerInfo, type ConsumerOptions, type ConsumerSource } from './consumer';
import { removeConsumer } from './consumer-admin';
import { holdCursor, withRegistryLock } from './consumer-lock';
import {
  checkConsumerName,
  consumerNames,
  createCursorFile,
  cursorPath,
  readCursor,
  readCursorFile,
  type CursorState,
} from './cursor-file';
import type { LogEntry } from './log';
import { lowestCutSince, readTruncations, writeTruncations } from './truncation-history';

/** What the host needs from the log (the rest of ConsumerSource is the host's own). */
export interface HostedLog extends Pick<
  ConsumerSource,
  'dir' | 'io' | 'id' | 'firstIndex' | 'durableIndex' | 'entries' | 'lagBytes' | 'openReader'
> {
  /** True once the log is closed: waits end. */
  closed(): boolean;
  /** Read-only opens: re-read the writer's durable mark (see ConsumerSource.settle). */
  settle?(): Promise<void>;
  /** The writer: a truncateBack cut is durable in truncations.tmp; publish it before bytes change. */
  onCut?(to: number, cuts: number): void;
  /** A consumer hosted here made a commit durable. */
  onCommit?(): void;
}

interface Waiter {
  index: number;
  done: () => void;
}

export class ConsumerHost implements ConsumerSource {
  private readonly open = new Map<string, Consumer>();
  private waiters: Waiter[] = [];
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
  entries(from: number, to: number): AsyncGenerator<LogEntry, void, undefined> {
    return this.log.entries(from, to);
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

  /** Opens (creating if needed) the consumer `name`; ERR_WAL_LOCKED when it is held elsewhere. */
  async consumer(name: string, opts: ConsumerOptions = {}): Promise<Consumer> {
    checkConsumerName(name);
    if (opts === null || typeof opts !== 'object') throw new WalError(WalErrorCodes.INVALID_ARGUMENT, 'consumer options must be an object');
    const start = opts.start ?? 'oldest';
    if (start !== 'oldest' && start !== 'newest' && (typeof start !== 'bigint' || start < 0n)) {
      throw new WalError(WalErrorCodes.INVALID_ARGUMENT, `consumer start must be 'oldest', 'newest' or an index, got ${String(start)}`);
    }
    if (this.open.has(name))
      throw new WalError(WalErrorCodes.LOCKED, `consumer '${name}' is already open`, { file: cursorPath(this.dir, name) });
    const file = cursorPath(this.dir, name);
    return withRegistryLock(this.io, this.dir, async () => {
      const exists = (await this.io.readdir(this.dir)).includes(`consumer.${name}.tmp`);
      if (!exists) {
        // A read-only open learns the front by polling: read it fresh (truncateFront publishes it under this lock).
        await this.log.settle?.();
        const committed =
          start === 'oldest' ? this.log.firstIndex() - 1 : start === 'newest' ? this.log.durableIndex() : Math.max(0, Number(start) - 1);
        const initial: CursorState = {
          seq: 1n,
          committed: BigInt(committed),
          lastCommitAt: 0,
          truncations: this.cuts.length,
          logId: this.id,
        };
        await createCursorFile(this.io, this.dir, name, initial);
      }
      const f = await holdCursor(this.io, file, name);
      try {
        const state = await readCursor(this.io, f, this.id);
        // Checked again: another opener in this process may have won while we waited for the lock.
        if (this.open.has(name)) throw new WalError(WalErrorCodes.LOCKED, `consumer '${name}' is already open`, { file });
        const c = new Consumer(name, this, f, state, {
          released: (x) => this.open.get(name) === x && this.open.delete(name),
          committed: () => this.log.onCommit?.(),
        });
        this.open.set(name, c);
        return c;
      } catch (err) {
        await f.close();
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
    const out: ConsumerInfo[] = [];
    for (const name of consumerNames(await this.io.readdir(this.dir))) {
      const live = this.open.get(name);
      if (live !== undefined) {
        out.push(live.info());
        continue;
      }
      let s: CursorState;
      try {
        s = await readCursorFile(this.io, cursorPath(this.dir, name), this.id);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue; // deleted meanwhile
        throw err;
      }
      const committed = Number(s.committed);
      out.push({
        name,
        committed: s.committed,
        delivered: s.committed,
        lagRecords: BigInt(Math.max(0, this.log.durableIndex() - committed)),
        lagBytes: this.log.lagBytes(committed),
        lastCommitAt: s.lastCommitAt > 0 ? new Date(s.lastCommitAt) : null,
      });
    }
    return out;
  }

  /** Removes a consumer's cursor file; ERR_WAL_LOCKED while it is open anywhere. */
  async delete(name: string): Promise<void> {
    checkConsumerName(name);
    if (this.open.has(name)) throw new WalError(WalErrorCodes.LOCKED, `consumer '${name}' is open; close it first`);
    await removeConsumer(this.io, this.dir, name);
  }

  /**
   * The durable committed position of every consumer, read from the cursor files after an
   * fdatasync of each (a commit in flight in another process may be in the page cache only).
   */
  async durableCommits(): Promise<{ name: string; committed: number }[]> {
    const out: { name: string; committed: number }[] = [];
    for (const name of consumerNames(await this.io.readdir(this.dir))) {
      try {
        const s = await readCursorFile(this.io, cursorPath(this.dir, name), this.id, true);
        out.push({ name, committed: Number(s.committed) });
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue;
        throw err;
      }
    }
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
    this.onDurable();
  }
}
