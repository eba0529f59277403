/**
 * The two errors a consumer's read can report about records it will not get, each carrying the
 * exact indexes so a downstream can act on them.
 */
import { WalError, WalErrorCodes } from '../errors';

/**
 * Records [from, to] were removed (retention with `policy: 'drop-oldest'`, or a forced
 * truncateFront) before this consumer committed them. The consumer continues after `to`; commit
 * `to` to acknowledge the loss, or the error is reported again after a restart.
 */
export class ConsumerGapError extends WalError {
  constructor(
    readonly consumer: string,
    readonly from: bigint,
    readonly to: bigint,
    file: string,
  ) {
    super(WalErrorCodes.CONSUMER_GAP, `consumer '${consumer}': records ${from}..${to} were removed before it committed them`, { file });
    Object.defineProperty(this, 'name', { value: 'ConsumerGapError', enumerable: false, configurable: true });
  }
}

/**
 * truncateBack(`lastIndex`) removed records this consumer had read or committed (up to
 * `position`): indexes after `lastIndex` now name (or will name) other records. Reads fail until
 * the consumer is moved with seek(i) for some i <= lastIndex.
 */
export class ConsumerTruncatedError extends WalError {
  constructor(
    readonly consumer: string,
    readonly position: bigint,
    readonly lastIndex: bigint,
    file: string,
  ) {
    super(
      WalErrorCodes.CONSUMER_TRUNCATED,
      `consumer '${consumer}' read up to ${position} but truncateBack cut the log to ${lastIndex}; seek to <= ${lastIndex}`,
      { file },
    );
    Object.defineProperty(this, 'name', { value: 'ConsumerTruncatedError', enumerable: false, configurable: true });
  }
}
