/**
 * `tail()` and `get()` of a read-only open (read-only.ts), over durable records only, as its
 * consumers read. Records are read in batches and copied; after each batch the writer's mark is
 * read again (a sequence lock, as Consumer.read does), and a truncateBack published meanwhile drops
 * the bytes read above its cut, which may have been rewritten under the reader. A follower that
 * already yielded a record a cut removed gets ERR_WAL_OUT_OF_RANGE, as Log.tail's does.
 */
import { WalError, WalErrorCodes } from '../errors';
import { type IndexArg, indexToNumber as toIndex } from '../index-arg';
import { throwIfAborted } from './abort';
import type { LogEntry, TailOptions } from './log';

/** What a read-only open offers these reads. */
export interface DurableReads {
  readonly dir: string;
  firstIndex(): number;
  durableIndex(): number;
  /** Entries [from, to] (to <= durableIndex()); data may be views into a read buffer. */
  read(from: number, to: number): AsyncGenerator<LogEntry, void, undefined>;
  /** Entry `index`'s data (a copy) found without decoding, or null: then `read` it. */
  lookup(index: number): Promise<Uint8Array | null>;
  /** truncateBack cuts so far and the lowest one among those after `since`. */
  truncationsSince(since: number): { count: number; lowest: number | null };
  /** Reads the writer's mark again (learning any cut) before returning. */
  settle(): Promise<void>;
  waitDurable(index: number, timeoutMs: number, signal: AbortSignal | undefined): Promise<void>;
  closed(): boolean;
}

/** Records and bytes per batch a follower reads before it checks for a cut and yields. */
const BATCH_RECORDS = 1000;
const BATCH_BYTES = 1 << 20;
/** A follower's wait is re-armed this often (the host's wait takes a timeout). */
const WAIT_MS = 60_000;

/** Reads [from, to] (at most one batch), copying each record's data. */
async function readBatch(src: DurableReads, from: number, to: number): Promise<LogEntry[]> {
  const out: LogEntry[] = [];
  let bytes = 0;
  const it = src.read(from, to);
  try {
    for (let r = await it.next(); r.done !== true; r = await it.next()) {
      out.push({ index: r.value.index, data: r.value.data.slice() });
      bytes += r.value.data.length;
      if (out.length >= BATCH_RECORDS || bytes >= BATCH_BYTES) break;
    }
  } finally {
    await it.return(undefined);
  }
  return out;
}

function truncatedError(dir: string, before: number): WalError {
  return new WalError(WalErrorCodes.OUT_OF_RANGE, `entries before ${before} were truncated`, { file: dir });
}

/**
 * Follows the durable records: from `from` (default: the next one to become durable), waiting for
 * new ones; ends when the log closes.
 */
export async function* followDurable(src: DurableReads, opts: TailOptions = {}): AsyncGenerator<LogEntry, void, undefined> {
  for await (const batch of followDurableBatches(src, opts, BATCH_RECORDS)) {
    for (const e of batch) {
      throwIfAborted(opts.signal, 'tail');
      yield e;
    }
  }
}

/** followDurable a batch at a time (at most `maxRecords` each), as Log.tailBatches. */
export async function* followDurableBatches(
  src: DurableReads,
  opts: TailOptions,
  maxRecords: number,
): AsyncGenerator<LogEntry[], void, undefined> {
  const signal = opts.signal;
  throwIfAborted(signal, 'tail');
  let next = opts.from === undefined ? src.durableIndex() + 1 : Math.max(toIndex('from', opts.from), src.firstIndex());
  let cutsSeen = src.truncationsSince(0).count;
  for (;;) {
    const cut = src.truncationsSince(cutsSeen);
    if (cut.lowest !== null && cut.lowest < next - 1) throw truncatedError(src.dir, next);
    cutsSeen = cut.count;
    if (src.closed()) return;
    throwIfAborted(signal, 'tail');
    const durable = src.durableIndex();
    if (next > durable) {
      await src.waitDurable(next, WAIT_MS, signal);
      continue;
    }
    // Removed meanwhile by truncateFront or retention: Log.tail fails the same way.
    if (next < src.firstIndex()) throw new WalError(WalErrorCodes.OUT_OF_RANGE, `entry ${next} is no longer in the log`, { file: src.dir });
    let batch = await readBatch(src, next, Math.min(durable, next + maxRecords - 1));
    await src.settle();
    const during = src.truncationsSince(cutsSeen);
    if (during.lowest !== null) {
      // Bytes above the cut may have been rewritten under the read: drop them, re-read after it.
      const low = during.lowest;
      batch = batch.filter((e) => e.index <= BigInt(low));
    }
    if (batch.length === 0) continue;
    throwIfAborted(signal, 'tail');
    next = Number(batch[batch.length - 1]!.index) + 1;
    yield batch;
  }
}

/** The data of durable entry `index` (a copy). ERR_WAL_OUT_OF_RANGE outside [firstIndex, durableIndex]. */
export async function getDurable(src: DurableReads, index: IndexArg): Promise<Uint8Array> {
  const i = toIndex('index', index);
  if (src.closed()) throw new WalError(WalErrorCodes.CLOSED, 'the log is closed', { file: src.dir });
  const outside = (): WalError =>
    new WalError(WalErrorCodes.OUT_OF_RANGE, `entry ${i} is outside [${src.firstIndex()}, ${src.durableIndex()}]`, { file: src.dir });
  if (i < src.firstIndex() || i > src.durableIndex()) throw outside();
  // A truncateBack published during the read may have rewritten what was read: read again.
  for (;;) {
    const cutsBefore = src.truncationsSince(0).count;
    const found = await src.lookup(i);
    const [e] = found !== null ? [{ index: BigInt(i), data: found }] : await readBatch(src, i, i);
    await src.settle();
    if (src.truncationsSince(cutsBefore).lowest === null) {
      if (e === undefined || e.index !== BigInt(i)) throw outside();
      return e.data;
    }
    if (i > src.durableIndex()) throw outside();
  }
}
