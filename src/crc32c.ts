import { defaultBackend } from './io/backend';

/**
 * CRC-32C (Castagnoli, reflected 0x82F63B78, as iSCSI, etcd and LevelDB use it) of `data`,
 * continuing from `seed` (a previous result; 0 to start), so crc32c(b, crc32c(a)) === crc32c(a‖b).
 * Hardware-accelerated when the addon is loaded. Returns an unsigned 32-bit integer.
 */
export function crc32c(data: Uint8Array, seed = 0): number {
  if (!(data instanceof Uint8Array)) throw new TypeError('crc32c: data must be a Uint8Array or Buffer');
  if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) {
    throw new RangeError('crc32c: seed must be an unsigned 32-bit integer');
  }
  return defaultBackend.crc32c(data, seed);
}
