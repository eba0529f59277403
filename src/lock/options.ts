/**
 * The `lock` option shared by Log, WAL and LevelDBLogWriter: how often a holder renews its
 * directory lease and after how long without renewal another opener may take it over.
 */
import { WalError, WalErrorCodes } from '../errors';

export interface LockOptions {
  /** How often the holder renews its lease (an unref'd timer). Default 1000 ms. */
  renewMs?: number;
  /**
   * A holder that other openers cannot judge by its pid or OFD lock (another PID namespace,
   * another host) is taken over after it was seen not to renew for this long. At least
   * 4 × renewMs. Default 10,000 ms.
   */
  staleMs?: number;
}

export type ResolvedLockOptions = Required<LockOptions>;

export const DEFAULT_LOCK_OPTIONS: Readonly<ResolvedLockOptions> = Object.freeze({ renewMs: 1000, staleMs: 10_000 });

/** Validates `lock` (undefined: the defaults); `where` names the API for the message. */
export function resolveLockOptions(value: unknown, where: string): ResolvedLockOptions {
  if (value === undefined) return { ...DEFAULT_LOCK_OPTIONS };
  const invalid = (message: string): WalError => new WalError(WalErrorCodes.INVALID_OPTION, `${where}: option 'lock' ${message}`);
  if (typeof value !== 'object' || value === null) throw invalid('must be an object { renewMs?, staleMs? }');
  for (const key of Object.keys(value)) {
    if (key !== 'renewMs' && key !== 'staleMs') throw invalid(`has no key '${key}' (known: renewMs, staleMs)`);
  }
  const v = value as LockOptions;
  const int = (name: string, x: unknown, fallback: number): number => {
    if (x === undefined) return fallback;
    if (typeof x !== 'number' || !Number.isSafeInteger(x) || x < 1 || x > 600_000) {
      throw invalid(`.${name} must be an integer in [1, 600000] ms, got ${String(x)}`);
    }
    return x;
  };
  const renewMs = int('renewMs', v.renewMs, DEFAULT_LOCK_OPTIONS.renewMs);
  const staleMs = int('staleMs', v.staleMs, Math.max(DEFAULT_LOCK_OPTIONS.staleMs, 4 * renewMs));
  if (staleMs < 4 * renewMs) throw invalid(`.staleMs (${staleMs}) must be at least 4 × renewMs (${renewMs})`);
  return { renewMs, staleMs };
}
