/**
 * Every failure this library reports on purpose is a `WalError` with a stable `code`.
 * Codes map one to one onto etcd's `wal` errors and LevelDB's log reports (see docs/api.md),
 * so callers can branch on `err.code` instead of parsing messages.
 */

export const WalErrorCodes = {
  /** A record's CRC does not match (etcd `walpb.ErrCRCMismatch`). */
  CRC_MISMATCH: 'ERR_WAL_CRC_MISMATCH',
  /** The CRC chain breaks between segments (etcd `wal.ErrCRCMismatch`). */
  CHAIN_MISMATCH: 'ERR_WAL_CHAIN_MISMATCH',
  SNAPSHOT_NOT_FOUND: 'ERR_WAL_SNAPSHOT_NOT_FOUND',
  SNAPSHOT_MISMATCH: 'ERR_WAL_SNAPSHOT_MISMATCH',
  FILE_NOT_FOUND: 'ERR_WAL_FILE_NOT_FOUND',
  METADATA_CONFLICT: 'ERR_WAL_METADATA_CONFLICT',
  SLICE_OUT_OF_RANGE: 'ERR_WAL_SLICE_OUT_OF_RANGE',
  /** A frame or record ends before its length says (etcd `io.ErrUnexpectedEOF`): torn tail, repairable. */
  UNEXPECTED_EOF: 'ERR_WAL_UNEXPECTED_EOF',
  LOCKED: 'ERR_WAL_LOCKED',
  EXISTS: 'ERR_WAL_EXISTS',
  /** A frame etcd 3.4.10+ could not read back (>= 10 MiB); nothing was written. */
  RECORD_TOO_LARGE: 'ERR_WAL_RECORD_TOO_LARGE',
  /** A record type etcd does not know ("unexpected block type N"). */
  UNEXPECTED_RECORD_TYPE: 'ERR_WAL_UNEXPECTED_RECORD_TYPE',
  /** A frame's walpb.Record does not decode and the frame is not torn (etcd returns a `proto:` error). */
  CORRUPT_RECORD: 'ERR_WAL_CORRUPT_RECORD',
  /** Bytes inside a CRC-valid record do not decode (etcd panics here). */
  CORRUPT_PAYLOAD: 'ERR_WAL_CORRUPT_PAYLOAD',
  /** ReadAll called twice or on a freshly created WAL (etcd `ErrDecoderNotFound`). */
  DECODER_NOT_FOUND: 'ERR_WAL_DECODER_NOT_FOUND',
  CLOSED: 'ERR_WAL_CLOSED',
  READ_ONLY: 'ERR_WAL_READ_ONLY',
  /** A previous write or fsync failed; the WAL refuses further writes until reopened. */
  FAILED: 'ERR_WAL_FAILED',
  INVALID_ARGUMENT: 'ERR_WAL_INVALID_ARGUMENT',
  INVALID_OPTION: 'ERR_WAL_INVALID_OPTION',
  OUT_OF_RANGE: 'ERR_WAL_OUT_OF_RANGE',
  QUEUE_FULL: 'ERR_WAL_QUEUE_FULL',
  /** LevelDB log corruption that the reader was asked to treat as fatal. */
  LEVELDB_CORRUPTION: 'ERR_WAL_LEVELDB_CORRUPTION',
  BAD_WRITE_BATCH: 'ERR_WAL_BAD_WRITE_BATCH',
  /** The native addon was required (WAL_NATIVE=1) but could not be loaded. */
  NATIVE_UNAVAILABLE: 'ERR_WAL_NATIVE_UNAVAILABLE',
  /** The caller's AbortSignal fired; `cause` is `signal.reason`. Thrown as a `WalAbortError`. */
  ABORTED: 'ERR_WAL_ABORTED',
  /** An optional peer dependency (prom-client, for metrics) is not installed. */
  MISSING_DEPENDENCY: 'ERR_WAL_MISSING_DEPENDENCY',
  /** An operating-system call failed; `cause` is the original errno error. */
  IO: 'ERR_WAL_IO',
  /** The log id file (log-id.tmp) is damaged: never replaced silently, since (log id, index) names records. */
  LOG_ID_CORRUPT: 'ERR_WAL_LOG_ID_CORRUPT',
  /** No consumer of that name (deleteConsumer, CLI reset). */
  CONSUMER_NOT_FOUND: 'ERR_WAL_CONSUMER_NOT_FOUND',
  /** Neither slot of a consumer's cursor file is valid. */
  CONSUMER_CORRUPT: 'ERR_WAL_CONSUMER_CORRUPT',
  /** commit() below the committed position or beyond what was delivered or seeked. */
  CONSUMER_COMMIT_RANGE: 'ERR_WAL_CONSUMER_COMMIT_RANGE',
  /** truncateBack removed records this consumer had already read or committed (ConsumerTruncatedError). */
  CONSUMER_TRUNCATED: 'ERR_WAL_CONSUMER_TRUNCATED',
  /** Records after the consumer's position were removed before it committed them (ConsumerGapError: from, to). */
  CONSUMER_GAP: 'ERR_WAL_CONSUMER_GAP',
  /** truncateFront would remove records a consumer has not committed (pass { force: true } to do it anyway). */
  CONSUMER_UNCOMMITTED: 'ERR_WAL_CONSUMER_UNCOMMITTED',
  // Forwarding (src/forward, src/jetstream): permanent downstream errors stop a forwarder.
  /** A forwarded batch message does not decode: bad headers, a record running past the body, CRC. */
  BATCH_CORRUPT: 'ERR_WAL_BATCH_CORRUPT',
  /** The JetStream stream the sink publishes to does not exist. */
  FORWARD_STREAM_NOT_FOUND: 'ERR_WAL_FORWARD_STREAM_NOT_FOUND',
  /** The subject is not one of the stream's, or its last message belongs to another log. */
  FORWARD_WRONG_SUBJECT: 'ERR_WAL_FORWARD_WRONG_SUBJECT',
  /** The server refused the credentials, or the user may not publish / read the stream. */
  FORWARD_AUTH: 'ERR_WAL_FORWARD_AUTH',
  /** One record does not fit in a message under the server's max_payload / the stream's max_msg_size. */
  FORWARD_MESSAGE_TOO_LARGE: 'ERR_WAL_FORWARD_MESSAGE_TOO_LARGE',
  /** The optional NATS client (`nats`) is not installed. */
  FORWARD_CLIENT_MISSING: 'ERR_WAL_FORWARD_CLIENT_MISSING',
  /** The stream holds something the forwarder cannot continue from (a gap, or indexes the log lacks). */
  FORWARD_DIVERGED: 'ERR_WAL_FORWARD_DIVERGED',
} as const;

export type WalErrorCode = (typeof WalErrorCodes)[keyof typeof WalErrorCodes];

export interface WalErrorDetails {
  /** The file the error applies to (segment, log file or directory). */
  file?: string;
  /** Byte offset inside `file` where the problem starts. */
  offset?: number;
  /** The original error (an fs error with errno/code/syscall, for example). */
  cause?: unknown;
}

export class WalError extends Error {
  readonly code: WalErrorCode;
  readonly file: string | undefined;
  readonly offset: number | undefined;

  constructor(code: WalErrorCode, message: string, details: WalErrorDetails = {}) {
    const where =
      details.file !== undefined ? ` (${details.file}${details.offset !== undefined ? ` at offset ${details.offset}` : ''})` : '';
    super(`${message}${where}`, details.cause !== undefined ? { cause: details.cause } : undefined);
    Object.defineProperty(this, 'name', { value: 'WalError', enumerable: false, configurable: true });
    this.code = code;
    this.file = details.file;
    this.offset = details.offset;
    Error.captureStackTrace?.(this, WalError);
  }
}

/**
 * The wait was given up because the caller's `AbortSignal` fired. A `WalError` with code
 * ERR_WAL_ABORTED whose `name` is 'AbortError', the name Node's own APIs (fs, timers, events) use,
 * so `err.name === 'AbortError'` checks keep working; `cause` is `signal.reason`.
 */
export class WalAbortError extends WalError {
  constructor(message: string, reason: unknown) {
    super(WalErrorCodes.ABORTED, message, { cause: reason });
    Object.defineProperty(this, 'name', { value: 'AbortError', enumerable: false, configurable: true });
  }
}

export function isWalError(err: unknown, code?: WalErrorCode): err is WalError {
  return err instanceof WalError && (code === undefined || err.code === code);
}
