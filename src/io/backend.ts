/**
 * Chooses the I/O backend once, at load:
 *   WAL_NATIVE=0  -> the fallback, always;
 *   WAL_NATIVE=1  -> the addon, or throw ERR_WAL_NATIVE_UNAVAILABLE;
 *   unset         -> the addon if it loads and passes its self-test, else the fallback (with the reason).
 */
import { WalError, WalErrorCodes } from '../errors';
import { createFallbackBackend } from './fallback';
import { loadNativeBackend } from './native';
import type { IoBackend } from './types';

function chooseBackend(): IoBackend {
  const setting = process.env['WAL_NATIVE'];
  if (setting === '0') return createFallbackBackend('WAL_NATIVE=0');
  const loaded = loadNativeBackend();
  if (loaded.backend) return loaded.backend;
  if (setting === '1') {
    throw new WalError(WalErrorCodes.NATIVE_UNAVAILABLE, `WAL_NATIVE=1 but the native addon could not be loaded: ${loaded.error}`);
  }
  const reason = `native addon unavailable: ${loaded.error}`;
  // Said once per process, so a silent slowdown is never a mystery; NODE_NO_WARNINGS=1 hides it.
  process.emitWarning(`nodewal runs on its pure-TypeScript fallback (same bytes, slower): ${reason}`, {
    type: 'NodewalWarning',
    code: 'NODEWAL_FALLBACK',
  });
  return createFallbackBackend(reason);
}

/** The backend every format uses unless given another through its `io` option. */
export const defaultBackend: IoBackend = chooseBackend();

/** Which backend is active and why; exported from the package as `backend`. */
export const backend = {
  kind: defaultBackend.kind,
  reason: defaultBackend.reason,
  crc: defaultBackend.crcImplementation,
} as const;
