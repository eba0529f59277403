/**
 * Index arguments: every API that takes an entry index accepts a bigint or, for the common case, a
 * safe-integer number (`log.get(1)`). Results stay bigints, so code written for bigints is unchanged.
 */
import { WalError, WalErrorCodes } from './errors';

/** An index argument: a bigint, or a non-negative integer number no larger than 2^53 - 1. */
export type IndexArg = bigint | number;

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

function invalid(name: string, v: unknown): WalError {
  const shown = typeof v === 'bigint' ? `${v}n` : typeof v === 'number' ? String(v) : typeof v;
  return new WalError(
    WalErrorCodes.INVALID_ARGUMENT,
    `${name} must be a non-negative integer (bigint or safe-integer number), got ${shown}`,
  );
}

/** For Log, whose indexes are JS numbers inside: at most 2^53 - 1 either way. */
export function indexToNumber(name: string, v: IndexArg): number {
  if (typeof v === 'number') {
    if (Number.isSafeInteger(v) && v >= 0) return v;
    throw invalid(name, v);
  }
  if (typeof v !== 'bigint' || v < 0n || v > MAX_SAFE) throw invalid(name, v);
  return Number(v);
}

/** For etcd's uint64 indexes and terms: any bigint up to 2^64 - 1, or a safe-integer number. */
export function indexToBigint(name: string, v: IndexArg): bigint {
  if (typeof v === 'number') {
    if (Number.isSafeInteger(v) && v >= 0) return BigInt(v);
    throw invalid(name, v);
  }
  if (typeof v !== 'bigint' || v < 0n || v > 0xffff_ffff_ffff_ffffn) throw invalid(name, v);
  return v;
}
