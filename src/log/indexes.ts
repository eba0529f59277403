/** Index arguments of the public API: bigints in, numbers inside (a log never reaches 2^53 entries). */
import { WalError, WalErrorCodes } from '../errors';

/** `v` as a number; ERR_WAL_INVALID_ARGUMENT unless it is a bigint in [0, 2^53). */
export function toIndex(name: string, v: bigint): number {
  if (typeof v !== 'bigint' || v < 0n || v > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new WalError(WalErrorCodes.INVALID_ARGUMENT, `${name} must be a non-negative bigint`);
  }
  return Number(v);
}
