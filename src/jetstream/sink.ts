/**
 * The JetStream sink: one message per batch on `subject` in `stream`, exactly once without relying
 * on the duplicate window.
 *
 * - The stream is the record of what was forwarded: `lastForwarded` reads the subject's last
 *   message (STREAM.MSG.GET last_by_subj) and its Wal-Last-Index header.
 * - Every publish carries Nats-Expected-Last-Subject-Sequence = the sequence of the previous batch
 *   on the subject (and Nats-Expected-Stream), so the server stores a batch only directly after its
 *   predecessor: a batch lost in flight can never be followed by a stored later one, and the same
 *   range can never be stored twice. Nats-Msg-Id `${logId}:${subject}:${first}-${last}` dedupes a retry
 *   inside the window. With other subjects in the stream the previous sequence is only known from
 *   its ack, so one batch per subject is in flight; batches grow to the server's limit instead.
 * - After any doubt (timeout, disconnect, wrong last sequence) the sink reads the subject's last
 *   message again and decides: our batch is there (done), its predecessor is (publish again), or
 *   something else is (a typed error, never a guess).
 */
import type { ConnectionOptions, JetStreamClient, JetStreamManager, NatsConnection, StreamInfo } from 'nats';
import { WalError, WalErrorCodes } from '../errors';
import { BATCH_HEADER_RESERVE, batchRange, encodeBatch, type EncodedBatch } from '../forward/batch';
import { getUvarint } from '../codec/varint';
import { abortable, backoffDelay, sleep } from '../forward/backoff';
import type { BackoffOptions } from '../forward/backoff';
import type { Sink, SinkRecord } from '../forward/sink';
import { classify } from './classify';
import type { Failure } from './classify';
import { loadNats } from './client';
import { subjectMatches } from './subjects';

export interface JetStreamSinkOptions {
  /** Server URL(s), e.g. 'nats://127.0.0.1:4222' (ignored when `connection` is given). */
  servers?: string | string[];
  /** Further client options (user/pass, token, authenticator, tls, name…), passed to `connect`. */
  connectOptions?: ConnectionOptions;
  /** An existing connection to use instead (not closed by `close()`). */
  connection?: NatsConnection;
  /** The stream that must capture `subject`. */
  stream: string;
  /** The subject this log's batches go to: one subject per log. */
  subject: string;
  /** How long one publish or stream request waits for its answer (default 5000 ms). */
  requestTimeoutMs?: number;
  /** Give up connecting at start after this long (default: keep trying). */
  connectTimeoutMs?: number;
  /** Pacing of retries after transient failures. */
  backoff?: BackoffOptions;
  /** Aborts connecting (and the start-up checks) while they are still retrying. */
  signal?: AbortSignal;
}

/** What `JetStreamSink#stats()` reports. */
export interface JetStreamSinkStats {
  publishes: number;
  /** Publishes answered as duplicates by the server's window (a retry of a stored batch). */
  duplicates: number;
  /** Transient failures retried (timeouts, disconnects, no responders). */
  retries: number;
  /** Times the subject's last message was read to decide what a doubtful publish did. */
  resyncs: number;
  reconnects: number;
  /** Stream sequence of the last batch on the subject (0: none yet). */
  lastSequence: number;
  /** Largest message the server and stream accept, headers included. */
  maxPayload: number;
  /** From the stream's configuration at creation. */
  replicas: number;
  storage: string;
}

/** Creates a sink: connects, checks the stream and the subject (typed errors), learns the size limit. */
export async function jetStreamSink(options: JetStreamSinkOptions): Promise<JetStreamSink> {
  const nats = loadNats();
  const timeout = options.requestTimeoutMs ?? 5000;
  let nc = options.connection;
  const owned = nc === undefined;
  if (nc === undefined) nc = await connectWithRetry(nats, options);
  try {
    const jsm = await nc.jetstreamManager({ timeout }).catch((err: unknown) => {
      throw toWalError(classify(err), options);
    });
    const info = await retryTransient(() => jsm.streams.info(options.stream), options);
    if (!info.config.subjects?.some((s) => subjectMatches(s, options.subject))) {
      throw new WalError(
        WalErrorCodes.FORWARD_WRONG_SUBJECT,
        `stream ${options.stream} does not capture subject ${options.subject} (its subjects: ${(info.config.subjects ?? []).join(', ') || 'none'})`,
      );
    }
    return new JetStreamSink(nats, nc, owned, jsm, nc.jetstream({ timeout }), info, options);
  } catch (err) {
    if (owned) await nc.close().catch(() => undefined);
    throw err;
  }
}

export class JetStreamSink implements Sink {
  readonly maxBatchBytes: number;
  readonly maxInFlight = 1;
  private lastSeq = 0;
  private lastIndex = 0n;
  private known = false;
  private readonly counters = { publishes: 0, duplicates: 0, retries: 0, resyncs: 0, reconnects: 0 };
  private readonly maxPayload: number;

  constructor(
    private readonly nats: ReturnType<typeof loadNats>,
    private readonly nc: NatsConnection,
    private readonly owned: boolean,
    private readonly jsm: JetStreamManager,
    private readonly js: JetStreamClient,
    private readonly info: StreamInfo,
    private readonly options: JetStreamSinkOptions,
  ) {
    const serverMax = nc.info?.max_payload ?? 1024 * 1024;
    const streamMax = info.config.max_msg_size;
    this.maxPayload = streamMax !== undefined && streamMax > 0 ? Math.min(serverMax, streamMax) : serverMax;
    this.maxBatchBytes = Math.max(1, this.maxPayload - BATCH_HEADER_RESERVE);
    void this.watchStatus();
  }

  private async watchStatus(): Promise<void> {
    for await (const s of this.nc.status()) if (s.type === 'reconnect') this.counters.reconnects++;
  }

  /** The subject's last batch: its log must be `logId`; resumes after its last index. */
  async lastForwarded(logId: string): Promise<bigint> {
    await this.resync(logId);
    return this.lastIndex;
  }

  async send(records: readonly SinkRecord[], opts: { signal?: AbortSignal } = {}): Promise<void> {
    return this.sendBatch(encodeBatch(records[0]!.logId, records), opts);
  }

  /** `send` of a batch already encoded (the forwarder reads straight into its body). */
  async sendBatch(batch: EncodedBatch, opts: { signal?: AbortSignal } = {}): Promise<void> {
    const logId = batch.logId;
    if (!this.known) await this.resync(logId, opts.signal);
    if (batch.body.length + BATCH_HEADER_RESERVE > this.maxPayload) {
      throw new WalError(
        WalErrorCodes.FORWARD_MESSAGE_TOO_LARGE,
        batch.first === batch.last
          ? `record ${batch.first} (${getUvarint(batch.body, 0)} bytes) does not fit in one message: the server/stream limit is ${this.maxPayload} bytes with headers`
          : `batch ${batch.first}-${batch.last} (${batch.body.length} bytes) exceeds the ${this.maxPayload}-byte message limit`,
      );
    }
    if (batch.first !== this.lastIndex + 1n) {
      throw new WalError(
        WalErrorCodes.FORWARD_DIVERGED,
        `batch starts at ${batch.first} but ${this.options.subject} holds up to ${this.lastIndex}`,
      );
    }
    // The window is per stream, not per subject: the subject is part of the id, so the same log
    // forwarded to a second subject of the stream is not taken for a duplicate of the first.
    const msgID = `${logId}:${this.options.subject}:${batch.first}-${batch.last}`;
    for (let attempt = 0; ; attempt++) {
      const h = this.nats.headers();
      for (const [k, v] of Object.entries(batch.headers)) h.set(k, v);
      let failure: Failure;
      try {
        this.counters.publishes++;
        const ack = await abortable(
          this.js.publish(this.options.subject, batch.body, {
            headers: h,
            msgID,
            expect: { lastSubjectSequence: this.lastSeq, streamName: this.options.stream },
          }),
          opts.signal,
        );
        if (ack.duplicate) {
          // Stored before (a retry inside the window): make sure it is this subject's last batch.
          this.counters.duplicates++;
          await this.resync(logId, opts.signal);
          if (this.lastIndex === batch.last) return;
          throw new WalError(
            WalErrorCodes.FORWARD_DIVERGED,
            `the server took batch ${msgID} for a duplicate, but ${this.options.subject} ends at index ${this.lastIndex}`,
          );
        }
        this.lastSeq = ack.seq;
        this.lastIndex = batch.last;
        return;
      } catch (err) {
        if ((err as Error).name === 'AbortError') throw err;
        failure = classify(err);
      }
      if (failure.kind !== 'transient' && failure.kind !== 'expectation') throw toWalError(failure, this.options);
      if (failure.kind === 'transient') {
        this.counters.retries++;
        await sleep(backoffDelay(attempt, this.options.backoff), opts.signal);
      }
      // What did the doubtful publish do? The stream says.
      await this.resync(logId, opts.signal);
      if (this.lastIndex === batch.last) return;
      if (this.lastIndex !== batch.first - 1n) {
        throw new WalError(
          WalErrorCodes.FORWARD_DIVERGED,
          `${this.options.subject} now ends at index ${this.lastIndex}, neither before nor at the end of batch ${batch.first}-${batch.last}: another forwarder writes this subject`,
        );
      }
    }
  }

  /** Reads the subject's last message into lastSeq/lastIndex, retrying transient failures. */
  private async resync(logId: string, signal?: AbortSignal): Promise<void> {
    this.counters.resyncs++;
    for (let attempt = 0; ; attempt++) {
      let failure: Failure;
      try {
        const m = await abortable(this.jsm.streams.getMessage(this.options.stream, { last_by_subj: this.options.subject }), signal);
        const range = batchRange(m.header);
        if (range === null || range.logId !== logId) {
          throw new WalError(
            WalErrorCodes.FORWARD_WRONG_SUBJECT,
            `the last message on ${this.options.subject} (stream sequence ${m.seq}) is ${range === null ? 'not a nodewal batch' : `from log ${range.logId}`}, not from log ${logId}: use one subject per log`,
          );
        }
        this.lastSeq = m.seq;
        this.lastIndex = range.last;
        this.known = true;
        return;
      } catch (err) {
        if (err instanceof WalError || (err as Error).name === 'AbortError') throw err;
        failure = classify(err);
      }
      if (failure.kind === 'no-message') {
        this.lastSeq = 0;
        this.lastIndex = 0n;
        this.known = true;
        return;
      }
      if (failure.kind !== 'transient') throw toWalError(failure, this.options);
      this.counters.retries++;
      await sleep(backoffDelay(attempt, this.options.backoff), signal);
    }
  }

  stats(): JetStreamSinkStats {
    return {
      ...this.counters,
      lastSequence: this.lastSeq,
      maxPayload: this.maxPayload,
      replicas: this.info.config.num_replicas,
      storage: String(this.info.config.storage),
    };
  }

  /** Closes the connection if the sink opened it. */
  async close(): Promise<void> {
    if (this.owned && !this.nc.isClosed()) await this.nc.close();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}

async function connectWithRetry(nats: ReturnType<typeof loadNats>, options: JetStreamSinkOptions): Promise<NatsConnection> {
  const deadline = options.connectTimeoutMs === undefined ? Infinity : Date.now() + options.connectTimeoutMs;
  for (let attempt = 0; ; attempt++) {
    try {
      return await nats.connect({
        servers: options.servers ?? '127.0.0.1:4222',
        maxReconnectAttempts: -1,
        reconnectTimeWait: 250,
        ...options.connectOptions,
      });
    } catch (err) {
      const failure = classify(err);
      if (failure.kind !== 'transient' || Date.now() >= deadline) throw toWalError(failure, options, err);
      await sleep(Math.min(backoffDelay(attempt, options.backoff), Math.max(1, deadline - Date.now())), options.signal);
    }
  }
}

/** Retries `fn` through transient failures; a permanent one becomes its typed error. */
async function retryTransient<T>(fn: () => Promise<T>, options: JetStreamSinkOptions): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      const failure = classify(err);
      if (failure.kind !== 'transient' || attempt >= 20) throw toWalError(failure, options, err);
      await sleep(backoffDelay(attempt, options.backoff), options.signal);
    }
  }
}

function toWalError(failure: Failure, options: JetStreamSinkOptions, cause?: unknown): WalError {
  const details = cause === undefined ? {} : { cause };
  switch (failure.kind) {
    case 'auth':
      return new WalError(
        WalErrorCodes.FORWARD_AUTH,
        `NATS refused the credentials or the permission (stream ${options.stream}, subject ${options.subject}): ${failure.detail}`,
        details,
      );
    case 'too-large':
      return new WalError(WalErrorCodes.FORWARD_MESSAGE_TOO_LARGE, `message over the server's limit: ${failure.detail}`, details);
    case 'stream-not-found':
      return new WalError(
        WalErrorCodes.FORWARD_STREAM_NOT_FOUND,
        `JetStream stream ${options.stream} not found: ${failure.detail}`,
        details,
      );
    default:
      return new WalError(
        WalErrorCodes.FORWARD_DIVERGED,
        `unexpected answer from JetStream (stream ${options.stream}): ${failure.detail}`,
        details,
      );
  }
}
