/**
 * What the consumer and follower benches share: records that carry their send time, 256 producers
 * each awaiting its append, and the small statistics both print.
 */

/** Wall-clock milliseconds, comparable across processes (a record's send time). */
export const now = (): number => performance.timeOrigin + performance.now();
export const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
/** The p-th percentile; NaN for no samples. */
export const pct = (xs: number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
};
export const fmt = (n: number): string => Math.round(n).toLocaleString('en-US');

/** The send time a `record()` carries in its first 8 bytes. */
export const sentAt = (d: Uint8Array): number => new DataView(d.buffer, d.byteOffset, d.byteLength).getFloat64(0, true);

/** `size` bytes starting with the time it was made. */
export function record(size: number): Buffer {
  const b = Buffer.alloc(size, 0x61);
  b.writeDoubleLE(now(), 0);
  return b;
}

/** 256 producers appending 100 B records for `seconds`, each awaiting its append: records/s. */
export async function produce(append: (data: Uint8Array) => Promise<unknown>, seconds: number): Promise<number> {
  let n = 0;
  let stop = false;
  const loop = async (): Promise<void> => {
    while (!stop) {
      await append(record(100));
      n++;
    }
  };
  const t0 = performance.now();
  const loops = Array.from({ length: 256 }, loop);
  await new Promise((r) => setTimeout(r, seconds * 1000));
  stop = true;
  await Promise.all(loops);
  return n / ((performance.now() - t0) / 1000);
}

/** What `consumeLive` needs of a consumer (this tree's or another tree's). */
export interface LiveConsumer {
  read(o: { maxRecords: number; timeoutMs: number }): Promise<{ index: bigint; data: Uint8Array }[]>;
  commit(index: bigint): Promise<void>;
}

/**
 * A live consumer's loop until `stopped()`: reads batches of up to 1,000 (waiting up to 50 ms),
 * samples every 16th record with the time it was seen, commits each batch (awaited).
 */
export async function consumeLive(
  c: LiveConsumer,
  stopped: () => boolean,
  see: (e: { index: bigint; data: Uint8Array }, seenAt: number) => void,
): Promise<void> {
  while (!stopped()) {
    const b = await c.read({ maxRecords: 1000, timeoutMs: 50 });
    if (b.length === 0) continue;
    const t = now();
    for (let i = 0; i < b.length; i += 16) see(b[i]!, t);
    await c.commit(b[b.length - 1]!.index);
  }
}
