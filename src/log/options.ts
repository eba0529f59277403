/**
 * Log options: the documented defaults and their validation. A misspelt or unknown option is an
 * error (ERR_WAL_INVALID_OPTION), never silently ignored, so a typo in `syncPolicy` cannot turn a
 * durable log into a non-durable one.
 */
import { WalError, WalErrorCodes } from '../errors';
import { defaultBackend } from '../io/backend';
import type { IoBackend } from '../io/types';
import { DEFAULT_LOCK_OPTIONS, resolveLockOptions, type LockOptions, type ResolvedLockOptions } from '../lock/options';
import { resolveRetention, type ResolvedRetention, type RetentionOptions } from './retention';

/** When appended records are fdatasync'd. */
export type SyncPolicy =
  /** Every batch is written and fdatasync'd in one call; `append` resolves once durable. */
  | 'always'
  /** Batches are written at once (`append` resolves when written); fdatasync runs every `intervalMs`. */
  | { intervalMs: number }
  /** Never fdatasync on its own; `append` resolves when written; call `sync()` for durability. */
  | 'none';

/** How Log prepares the bytes a tail segment will be written into (see docs/log.md). */
export type Preallocation =
  /**
   * 'zero-fill' while the log is written slower than the disk can also take the zeros (the last
   * segment filled at under 200 MiB/s), 'fallocate' above that. The default.
   */
  | 'auto'
  /** Zero-fill the next segment with explicit writes in the background, then fdatasync it once. */
  | 'zero-fill'
  /** fallocate(2) (what etcd does); falls back to a sparse ftruncate where unsupported. */
  | 'fallocate';

export interface LogOptions {
  /** Sync policy. Default 'always'. */
  syncPolicy?: SyncPolicy;
  /** Size at which the tail segment is cut (etcd: 64,000,000). Minimum 4096. */
  segmentSize?: number;
  /** Bytes of appends queued but not yet written beyond which `append` waits or rejects. Default 64 MiB. */
  maxQueuedBytes?: number;
  /** What to do when the queue is full: 'wait' (default) or 'reject' with ERR_WAL_QUEUE_FULL. */
  onQueueFull?: 'wait' | 'reject';
  /** Upper bound of one write batch in bytes (one record larger than this is written alone). Default 4 MiB. */
  maxBatchBytes?: number;
  /**
   * Bytes one fdatasync covers at most under syncPolicy 'always' (with `maxBatchBytes`, the smaller
   * bound wins; one larger record is written alone). Past about this much, a sync costs more than
   * sharing it saves (1 MiB records from 4 producers, bench/README.md). Default 1 MiB.
   */
  maxSyncBytes?: number;
  /** Open the tail with O_DIRECT (native backend only; refused → buffered, reported in stats()). Default false. */
  direct?: boolean;
  /** How the next segment is prepared. Default 'auto' (chosen by measurement; docs/log.md "Preallocation"). */
  preallocation?: Preallocation;
  /**
   * Where each batch's write + fdatasync runs (native backend; the fallback always uses the
   * threadpool): 'dedicated' (default) — the tail file's own I/O thread, which waits briefly for
   * the next batch instead of sleeping (measured faster, see docs/log.md); 'threadpool' — libuv's.
   */
  syncThread?: 'dedicated' | 'threadpool';
  /** Raft term written into every entry (etcd's readers need one; the Log itself ignores it). Default 1n. */
  term?: bigint;
  /** Emit 'slowSync' when one write+fdatasync takes longer than this many ms (etcd warns at 1 s). Default 1000. */
  slowSyncMs?: number;
  /** Read buffer of `entries()` and of the open-time scan, per segment. Default 1 MiB. */
  readBufferBytes?: number;
  /**
   * Bytes of the most recently written records kept in memory, from which `tail()` followers and
   * consumers take just-durable records without reading the tail segment again (oldest evicted
   * first; 0 keeps none). Default 4 MiB.
   */
  recentRecordsBytes?: number;
  /** Open for writing only if the directory already holds a log. Default false (create if missing). */
  mustExist?: boolean;
  /** The directory lease's timings (see docs/durability.md "One writer per directory"). Default { renewMs: 1000, staleMs: 10000 }. */
  lock?: LockOptions;
  /**
   * Open without the writer lock, to read and host consumers beside a live writer (another thread
   * or process); returns a ReadOnlyLog. Sees new durable records within about `pollMs`. Default false.
   */
  readOnly?: boolean;
  /** Read-only opens: how often the writer's durable index is read, in ms. Default 5. */
  pollMs?: number;
  /** Automatic retention by size and age, and what happens to uncommitted records (retention.ts). Default none. */
  retention?: RetentionOptions | null;
  /** The I/O backend (tests inject a recording layer). Default: the package's backend. */
  io?: IoBackend;
}

/** Every option with its value after defaults. */
export interface ResolvedLogOptions {
  syncPolicy: 'always' | 'none' | { intervalMs: number };
  segmentSize: number;
  maxQueuedBytes: number;
  onQueueFull: 'wait' | 'reject';
  maxBatchBytes: number;
  maxSyncBytes: number;
  direct: boolean;
  preallocation: Preallocation;
  syncThread: 'dedicated' | 'threadpool';
  term: bigint;
  slowSyncMs: number;
  readBufferBytes: number;
  recentRecordsBytes: number;
  mustExist: boolean;
  lock: ResolvedLockOptions;
  readOnly: boolean;
  pollMs: number;
  retention: ResolvedRetention | null;
  io: IoBackend;
}

/** The defaults of `Log.open` (without `io`, which defaults to the package's backend). */
export const DEFAULT_LOG_OPTIONS: Readonly<Omit<ResolvedLogOptions, 'io'>> = Object.freeze({
  syncPolicy: 'always',
  segmentSize: 64_000_000,
  maxQueuedBytes: 64 * 1024 * 1024,
  onQueueFull: 'wait',
  maxBatchBytes: 4 * 1024 * 1024,
  maxSyncBytes: 1024 * 1024,
  direct: false,
  preallocation: 'auto',
  syncThread: 'dedicated',
  term: 1n,
  slowSyncMs: 1000,
  readBufferBytes: 1024 * 1024,
  recentRecordsBytes: 4 * 1024 * 1024,
  mustExist: false,
  lock: DEFAULT_LOCK_OPTIONS,
  readOnly: false,
  pollMs: 5,
  retention: null,
} as const);

const KNOWN = new Set<string>([...Object.keys(DEFAULT_LOG_OPTIONS), 'io']);

function invalid(message: string): WalError {
  return new WalError(WalErrorCodes.INVALID_OPTION, `Log.open: ${message}`);
}

function positiveInteger(name: string, value: unknown, min = 1): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min) {
    throw invalid(`option '${name}' must be an integer >= ${min}, got ${String(value)}`);
  }
  return value;
}

function closestKnown(name: string): string | undefined {
  const lower = name.toLowerCase();
  for (const known of KNOWN) if (known.toLowerCase() === lower) return known;
  for (const known of KNOWN) {
    if (known.toLowerCase().startsWith(lower.slice(0, 4)) || lower.startsWith(known.toLowerCase().slice(0, 4))) {
      return known;
    }
  }
  return undefined;
}

/** Applies defaults and validates; throws ERR_WAL_INVALID_OPTION naming the offending option. */
export function resolveLogOptions(options: LogOptions | undefined): ResolvedLogOptions {
  if (options === undefined || options === null) options = {};
  if (typeof options !== 'object') throw invalid('options must be an object');
  for (const key of Object.keys(options)) {
    if (!KNOWN.has(key)) {
      const hint = closestKnown(key);
      throw invalid(`unknown option '${key}'${hint ? ` (did you mean '${hint}'?)` : ''}`);
    }
  }
  const o = options as Record<string, unknown>;
  const pick = <K extends keyof typeof DEFAULT_LOG_OPTIONS>(k: K): unknown => (o[k] === undefined ? DEFAULT_LOG_OPTIONS[k] : o[k]);

  const policy = pick('syncPolicy');
  let syncPolicy: ResolvedLogOptions['syncPolicy'];
  if (policy === 'always' || policy === 'none') syncPolicy = policy;
  else if (typeof policy === 'object' && policy !== null) {
    const keys = Object.keys(policy);
    if (keys.length !== 1 || keys[0] !== 'intervalMs') {
      throw invalid(`option 'syncPolicy' as an object takes exactly { intervalMs }, got keys ${keys.join(', ')}`);
    }
    syncPolicy = { intervalMs: positiveInteger('syncPolicy.intervalMs', (policy as { intervalMs: unknown }).intervalMs) };
  } else throw invalid(`option 'syncPolicy' must be 'always', 'none' or { intervalMs }, got ${String(policy)}`);

  const onQueueFull = pick('onQueueFull');
  if (onQueueFull !== 'wait' && onQueueFull !== 'reject') {
    throw invalid(`option 'onQueueFull' must be 'wait' or 'reject', got ${String(onQueueFull)}`);
  }
  const preallocation = pick('preallocation');
  if (preallocation !== 'auto' && preallocation !== 'zero-fill' && preallocation !== 'fallocate') {
    throw invalid(`option 'preallocation' must be 'auto', 'zero-fill' or 'fallocate', got ${String(preallocation)}`);
  }
  const syncThread = pick('syncThread');
  if (syncThread !== 'dedicated' && syncThread !== 'threadpool') {
    throw invalid(`option 'syncThread' must be 'dedicated' or 'threadpool', got ${String(syncThread)}`);
  }
  const term = pick('term');
  if (typeof term !== 'bigint' || term < 0n || term >= 1n << 64n) {
    throw invalid(`option 'term' must be a bigint in [0, 2^64), got ${String(term)}`);
  }
  for (const name of ['direct', 'mustExist', 'readOnly'] as const) {
    if (typeof pick(name) !== 'boolean') throw invalid(`option '${name}' must be a boolean`);
  }
  const slowSyncMs = pick('slowSyncMs');
  if (typeof slowSyncMs !== 'number' || !(slowSyncMs >= 0)) {
    throw invalid(`option 'slowSyncMs' must be a number >= 0, got ${String(slowSyncMs)}`);
  }
  const io = o['io'] === undefined ? defaultBackend : o['io'];
  if (typeof io !== 'object' || io === null || typeof (io as IoBackend).open !== 'function') {
    throw invalid(`option 'io' must be an IoBackend`);
  }
  const segmentSize = positiveInteger('segmentSize', pick('segmentSize'), 4096);
  return {
    syncPolicy,
    segmentSize,
    maxQueuedBytes: positiveInteger('maxQueuedBytes', pick('maxQueuedBytes')),
    onQueueFull,
    maxBatchBytes: positiveInteger('maxBatchBytes', pick('maxBatchBytes'), 1024),
    maxSyncBytes: positiveInteger('maxSyncBytes', pick('maxSyncBytes'), 1024),
    direct: pick('direct') as boolean,
    preallocation,
    syncThread,
    term,
    slowSyncMs,
    readBufferBytes: positiveInteger('readBufferBytes', pick('readBufferBytes'), 4096),
    recentRecordsBytes: positiveInteger('recentRecordsBytes', pick('recentRecordsBytes'), 0),
    mustExist: pick('mustExist') as boolean,
    lock: resolveLockOptions(o['lock'], 'Log.open'),
    readOnly: pick('readOnly') as boolean,
    pollMs: positiveInteger('pollMs', pick('pollMs')),
    retention: resolveRetention(o['retention'], segmentSize, invalid),
    io: io as IoBackend,
  };
}
