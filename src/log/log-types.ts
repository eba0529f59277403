/**
 * The public shapes of a Log's API (options of its calls, what stats() returns): one file, so the
 * parts and the façade (log.ts) share them without importing each other.
 */
import type { IndexArg } from '../index-arg';
import type { LatencySummary } from './histogram';
import type { RetentionStats } from './retention';

/** One record read back: its index and data (a view into a read buffer; copy it to keep many). */
export interface LogEntry {
  index: bigint;
  data: Uint8Array;
}

/** Range of `entries()`; both ends inclusive, clamped to [firstIndex, lastIndex]. */
export interface EntriesRange {
  from?: IndexArg;
  to?: IndexArg;
  /** Ends the iteration with a WalAbortError (ERR_WAL_ABORTED), checked before each entry. */
  signal?: AbortSignal;
}

/** Options of `tail()`. */
export interface TailOptions {
  /** First index to yield (default: the next one to become durable). */
  from?: IndexArg;
  /** Ends the follower with a WalAbortError, also while it waits for new entries. */
  signal?: AbortSignal;
}

/** Options of `tailBatches()`. */
export interface TailBatchOptions extends TailOptions {
  /** At most this many records in one batch (default 10,000). */
  maxRecords?: number;
}

/** Options of `append()` / `appendBatch()`. */
export interface AppendOptions {
  /**
   * Withdraws an append still waiting for queue space (backpressure): it rejects with a
   * WalAbortError and is never written. An append already in the queue is not affected: it is
   * written and acknowledged as usual.
   */
  signal?: AbortSignal;
}

/** Options of `durable()`. */
export interface WaitOptions {
  /** Stops waiting (rejects with a WalAbortError); the entries still become durable. */
  signal?: AbortSignal;
}

/** Counters and latencies of a Log since it was opened. */
export interface LogStats {
  /** Records appended (written) and their data bytes. */
  appends: number;
  bytes: number;
  /** Write calls that carried records, and fdatasyncs (batches under 'always', plus syncs and cuts). */
  batches: number;
  fsyncs: number;
  /** Latency of write+fdatasync (or fdatasync alone) in microseconds. */
  fsyncLatency: LatencySummary;
  /** Records and bytes waiting to be written, and appends waiting for queue space. */
  queueDepth: number;
  queuedBytes: number;
  blockedAppends: number;
  segments: number;
  firstIndex: bigint;
  lastIndex: bigint;
  durableIndex: bigint;
  /** 'native' | 'fallback' | 'custom', and whether writes use O_DIRECT. */
  backend: string;
  direct: boolean;
  /** Why O_DIRECT is off although `direct: true` was asked (refused by the filesystem or backend). */
  directUnavailable: string | null;
  /** A torn tail repaired at open: the `.broken` copy kept. */
  repaired: string | null;
  /** How the next segment is being prepared (with `preallocation: 'auto'`, chosen by fill rate). */
  preparation: 'zero-fill' | 'fallocate';
  /** `JSON.stringify(log.stats())` works: indexes (always <= 2^53 - 1 in a Log) become numbers. */
  toJSON(): LogStatsJSON;
  /** What automatic retention removed, and whether it holds producers; null without `retention`. */
  retention: RetentionStats | null;
}

/** `LogStats` as JSON: the bigint indexes as numbers. */
export type LogStatsJSON = {
  [K in Exclude<keyof LogStats, 'toJSON'>]: LogStats[K] extends bigint ? number : LogStats[K];
};

/** Payload of the 'slowSync' event. */
export interface SlowSyncEvent {
  durationMs: number;
  records: number;
  bytes: number;
}
