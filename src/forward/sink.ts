/**
 * The downstream side of a forwarder. A `Sink` stores batches of consecutive records of one log and
 * says when they are durable; `forward()` commits its consumer only after that. Any store can be
 * one: the JetStream sink (`nodewal/jetstream`) is the one the package ships.
 */
import type { EncodedBatch } from './batch';

/** One record as a sink receives it: which log, which index there, and its bytes. */
export interface SinkRecord {
  logId: string;
  index: bigint;
  data: Uint8Array;
}

export interface Sink {
  /**
   * The highest index of log `logId` the downstream already holds durably (0n: none). The
   * forwarder resumes right after it, so the store — not a local file — is the record of what was
   * forwarded. A sink without it gets at-least-once: the forwarder resumes after its commit.
   */
  lastForwarded?(logId: string): Promise<bigint>;
  /**
   * Stores `records` (non-empty, one log, consecutive indexes following the previous batch) and
   * resolves once they are durable. Rejecting means a permanent failure: the forwarder stops with
   * that error; a sink retries transient failures itself. `signal` aborts a send that is still
   * retrying when the forwarder stops (reject with an AbortError; the batch counts as not stored).
   */
  send(records: readonly SinkRecord[], options?: { signal?: AbortSignal }): Promise<void>;
  /**
   * Optional: `send` for a store that keeps the batch message itself (the JetStream sink). The
   * forwarder then reads each batch straight into its body (`Consumer#readEncoded`), one copy per
   * record and no object per record, and calls this instead of `send`; the same contract holds.
   */
  sendBatch?(batch: EncodedBatch, options?: { signal?: AbortSignal }): Promise<void>;
  /** Largest batch one `send` may carry, as `encodedRecordSize` summed over its records (default 1 MiB). */
  readonly maxBatchBytes?: number;
  /** Sends the forwarder may have outstanding (default 1); a sink allowing more must store them in order. */
  readonly maxInFlight?: number;
}
