/**
 * Benchmark records that check themselves: record `seq` of producer `p` starts with both numbers
 * and is filled with bytes derived from them, so recovery can prove every record came back intact,
 * exactly once, in each producer's order — without keeping a copy of what was written.
 */

const HEADER = 8;

/** The payload of record `seq` of producer `producer`, `size` bytes (at least 8). */
export function makePayload(producer: number, seq: number, size: number): Uint8Array {
  const out = new Uint8Array(Math.max(size, HEADER));
  fillPayload(out, producer, seq);
  return out;
}

function fillPayload(out: Uint8Array, producer: number, seq: number): void {
  const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
  view.setUint32(0, producer, true);
  view.setUint32(4, seq, true);
  // xorshift32 seeded from (producer, seq): cheap, and any flipped or shifted byte shows.
  let x = (Math.imul(producer + 1, 0x9e3779b1) ^ Math.imul(seq + 1, 0x85ebca6b)) | 1;
  for (let i = HEADER; i < out.length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
}

/** Which producer and sequence number `data` claims, or null if it is not intact. */
export function checkPayload(data: Uint8Array, size: number, scratch: Uint8Array): { producer: number; seq: number } | null {
  if (data.length !== Math.max(size, HEADER)) return null;
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const producer = view.getUint32(0, true);
  const seq = view.getUint32(4, true);
  fillPayload(scratch, producer, seq);
  for (let i = HEADER; i < data.length; i++) if (data[i] !== scratch[i]) return null;
  return { producer, seq };
}
