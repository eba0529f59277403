/**
 * CRC-32C combining: the CRC algebra that turns one chained `io.crc32cChain` call into the
 * independent CRC of each slice, without a second pass over the data. Format-free (the LevelDB
 * writer and reader use it: every LevelDB fragment has its own CRC).
 */
import type { IoBackend } from './io/types';

/*
 * io.crc32cChain returns *chained* CRCs (slice i continues from slice i-1), while each slice
 * needs its own. CRC algebra gives them back without a second pass over the data:
 *   crc(A‖B) = crc(A)·x^(8|B|) mod P  xor  crc(B)
 * so crc(B) = chained_i xor shift(chained_{i-1}, |B|), where shift is a carry-less
 * multiplication by x^(8|B|) mod P (the operator zlib's crc32_combine uses).
 */
const POLY = 0x82f63b78;

/** a·b mod P, both in reflected representation (bit 31 is x^0). */
function multModP(a: number, b: number): number {
  let m = 0x80000000;
  let p = 0;
  for (;;) {
    if (a & m) {
      p ^= b;
      if ((a & (m - 1)) === 0) break;
    }
    m >>>= 1;
    b = b & 1 ? (b >>> 1) ^ POLY : b >>> 1;
  }
  return p >>> 0;
}

/** x^(2^k) mod P for k = 0..31, used to build x^(8n) by squaring. */
const X2N: Uint32Array = (() => {
  const table = new Uint32Array(32);
  let p = 0x40000000; // x^1
  for (let k = 0; k < 32; k++) {
    table[k] = p;
    p = multModP(p, p);
  }
  return table;
})();

/**
 * Multiplication by x^(8n) mod P as eight 16-entry tables (one per 4-bit group of the operand):
 * 8 lookups per multiplication instead of multModP's 32-step loop. Built in ~160 steps per length
 * and cached, since batches repeat the same few fragment lengths.
 */
const shiftTables: (Uint32Array | undefined)[] = [];
let cachedLengths = 0;
const MAX_CACHED_LENGTHS = 4096; // 2 MiB of tables at most

function shiftTable(n: number): Uint32Array {
  let table = shiftTables[n];
  if (table !== undefined) return table;
  let p = 0x80000000; // x^0
  let k = 3; // x^(8n) = x^(n·2^3)
  for (let rest = n; rest > 0; rest = Math.floor(rest / 2), k++) {
    if (rest % 2 === 1) p = multModP(X2N[k & 31]!, p);
  }
  table = new Uint32Array(128);
  // basis: p·x^i for the operand bit that stands for x^i (bit 31 - i in reflected form)
  const basis = new Uint32Array(32);
  for (let i = 0; i < 32; i++) {
    basis[i] = p;
    p = p & 1 ? (p >>> 1) ^ POLY : p >>> 1;
  }
  for (let group = 0; group < 8; group++) {
    for (let nibble = 1; nibble < 16; nibble++) {
      let v = 0;
      for (let bit = 0; bit < 4; bit++) if (nibble & (1 << bit)) v ^= basis[31 - (group * 4 + bit)]!;
      table[group * 16 + nibble] = v >>> 0;
    }
  }
  if (cachedLengths >= MAX_CACHED_LENGTHS) {
    shiftTables.length = 0;
    cachedLengths = 0;
  }
  shiftTables[n] = table;
  cachedLengths++;
  return table;
}

/** crc·x^(8n) mod P: what appending n bytes does to the part of a CRC that came before them. */
function shiftCrc(crc: number, n: number): number {
  const t = shiftTable(n);
  return (
    (t[crc & 15]! ^
      t[16 + ((crc >>> 4) & 15)]! ^
      t[32 + ((crc >>> 8) & 15)]! ^
      t[48 + ((crc >>> 12) & 15)]! ^
      t[64 + ((crc >>> 16) & 15)]! ^
      t[80 + ((crc >>> 20) & 15)]! ^
      t[96 + ((crc >>> 24) & 15)]! ^
      t[112 + (crc >>> 28)]!) >>>
    0
  );
}

/**
 * Independent CRC-32C of each slice `data[bounds[2i], bounds[2i+1])`, computed with one
 * `io.crc32cChain` call (one native crossing for a whole batch or block).
 */
export function sliceCrcs(io: IoBackend, data: Uint8Array, bounds: Uint32Array): Uint32Array {
  const crcs = io.crc32cChain(data, bounds, 0);
  let previous = 0;
  for (let i = 0; i < crcs.length; i++) {
    const chained = crcs[i]!;
    const length = bounds[2 * i + 1]! - bounds[2 * i]!;
    crcs[i] = (chained ^ (previous === 0 ? 0 : shiftCrc(previous, length))) >>> 0;
    previous = chained;
  }
  return crcs;
}
