import { prng } from '../support/prng';

/**
 * The records the crash harness writes: record i of a run with `seed` is always the same bytes,
 * so the parent can check what it reads back without being told. The first 4 bytes hold i.
 * Sizes: mostly small, some a few KiB (frames straddle sectors), a few 40 KiB (several LevelDB
 * blocks, segment cuts in the middle of a batch).
 */
export function crashPayload(i: number, seed: number): Uint8Array {
  const next = prng((Math.imul(i, 0x9e3779b1) ^ Math.imul(seed, 0x85ebca6b)) >>> 0);
  const roll = next();
  const n = roll < 0.02 ? 40000 + Math.floor(next() * 8000) : roll < 0.2 ? 1000 + Math.floor(next() * 4000) : 4 + Math.floor(next() * 150);
  const b = new Uint8Array(n);
  for (let k = 4; k < n; k++) b[k] = (next() * 256) | 0;
  new DataView(b.buffer).setUint32(0, i, true);
  return b;
}

/** The index stored in a payload (-1 when too short to hold one). */
export function indexOfPayload(data: Uint8Array): number {
  return data.length >= 4 ? new DataView(data.buffer, data.byteOffset, data.byteLength).getUint32(0, true) : -1;
}

/** Whether `data` is exactly record i of `seed`. */
export function isPayload(data: Uint8Array, i: number, seed: number): boolean {
  const want = crashPayload(i, seed);
  if (data.length !== want.length) return false;
  for (let k = 0; k < want.length; k++) if (data[k] !== want[k]) return false;
  return true;
}
