/**
 * Random LevelDB logs for the interop tests: record sizes concentrated at the block edges, and
 * corruptions of the kinds LevelDB's reader distinguishes.
 */
import { crc32c } from '../../../src/crc32c';
import { BLOCK_SIZE, HEADER_SIZE, maskCrc } from '../../../src/leveldb/format';
import { Rng } from '../../support/prng';

export { Rng };

/**
 * A record length that lands the next record near a block edge often: the sizes that leave
 * 0..7 bytes in the block, that fill it exactly, and those around 32761/32762/32768.
 */
export function edgeSize(rng: Rng, blockOffset: number): number {
  const room = BLOCK_SIZE - blockOffset - HEADER_SIZE;
  switch (rng.int(6)) {
    case 0:
      return Math.max(0, room - 7 + rng.int(9)); // leaves 0..7 bytes (or spills over by one)
    case 1:
      return rng.pick([32760, 32761, 32762, 32767, 32768, 32769, 65522, 65523]);
    case 2:
      return rng.int(20);
    case 3:
      return rng.int(300);
    case 4:
      return rng.int(5000);
    default:
      return rng.int(40000);
  }
}

/** Random records whose sizes hit the block edges, `count` of them. */
export function edgeRecords(rng: Rng, count: number, startOffset = 0): Uint8Array[] {
  const records: Uint8Array[] = [];
  let offset = startOffset % BLOCK_SIZE;
  for (let i = 0; i < count; i++) {
    const size = edgeSize(rng, offset);
    records.push(rng.bytes(size));
    // Track the block offset the way the writer moves it (for choosing the next edge size).
    let left = size;
    do {
      if (BLOCK_SIZE - offset < HEADER_SIZE) offset = 0;
      const n = Math.min(left, BLOCK_SIZE - offset - HEADER_SIZE);
      offset += HEADER_SIZE + n;
      left -= n;
    } while (left > 0);
  }
  return records;
}

/** Header offsets of the physical records of a well-formed log. */
export function physicalHeaders(log: Uint8Array): number[] {
  const out: number[] = [];
  let pos = 0;
  while (pos + HEADER_SIZE <= log.length) {
    const inBlock = pos % BLOCK_SIZE;
    if (BLOCK_SIZE - inBlock < HEADER_SIZE) {
      pos += BLOCK_SIZE - inBlock;
      continue;
    }
    const length = log[pos + 4]! | (log[pos + 5]! << 8);
    out.push(pos);
    pos += HEADER_SIZE + length;
  }
  return out;
}

/** Rewrites the checksum of the physical record at `h` to match its current type and payload. */
function refreshCrc(log: Uint8Array, h: number): void {
  const length = log[h + 4]! | (log[h + 5]! << 8);
  const end = Math.min(log.length, h + HEADER_SIZE + length);
  const crc = maskCrc(crc32c(log.subarray(h + 6, end)));
  new DataView(log.buffer, log.byteOffset).setUint32(h, crc, true);
}

/** The corruption kinds, each a mutation of `log` (a copy is returned). */
export function corrupt(rng: Rng, input: Uint8Array): { log: Uint8Array; what: string } {
  let log = new Uint8Array(input); // a plain copy (Buffer#slice would share memory)
  const what: string[] = [];
  const rounds = 1 + rng.int(3);
  for (let round = 0; round < rounds; round++) {
    const headers = physicalHeaders(log);
    const h = headers.length > 0 ? rng.pick(headers) : 0;
    switch (rng.int(9)) {
      case 0: {
        if (log.length === 0) break;
        const at = rng.int(log.length);
        log[at]! ^= 1 << rng.int(8);
        what.push(`flip@${at}`);
        break;
      }
      case 1: {
        const at = rng.int(log.length + 1);
        log = log.slice(0, at);
        what.push(`truncate@${at}`);
        break;
      }
      case 2: {
        const at = rng.int(log.length + 1);
        const n = rng.pick([7, 8, 100, 512, 4096, 32768]);
        log.fill(0, at, at + n);
        what.push(`zero@${at}+${n}`);
        break;
      }
      case 3: {
        if (headers.length === 0) break;
        const type = rng.pick([0, 1, 2, 3, 4, 5, 6, 7, 9, 0x82, 0xff]);
        log[h + 6] = type;
        if (h + HEADER_SIZE <= log.length) refreshCrc(log, h);
        what.push(`retype@${h}=${type}`);
        break;
      }
      case 4: {
        if (headers.length === 0 || h + 6 > log.length) break;
        const length = rng.pick([0, 1, 0xffff, rng.int(0x10000), rng.int(100)]);
        log[h + 4] = length & 0xff;
        log[h + 5] = length >>> 8;
        if (rng.int(2) === 0) refreshCrc(log, h);
        what.push(`length@${h}=${length}`);
        break;
      }
      case 5: {
        const n = rng.pick([1, 6, 7, 100, 40000]);
        const grown = new Uint8Array(log.length + n);
        grown.set(log);
        log = grown;
        what.push(`zerotail+${n}`);
        break;
      }
      case 6: {
        const at = rng.int(log.length + 1);
        const garbage = rng.bytes(1 + rng.int(20));
        const grown = new Uint8Array(log.length + garbage.length);
        grown.set(log.subarray(0, at));
        grown.set(garbage, at);
        grown.set(log.subarray(at), at + garbage.length);
        log = grown;
        what.push(`insert@${at}+${garbage.length}`);
        break;
      }
      case 7: {
        // A header of zeros in the middle of a block (preallocation, zeroed page).
        if (headers.length === 0 || h + HEADER_SIZE > log.length) break;
        log.fill(0, h, h + HEADER_SIZE);
        what.push(`zeroheader@${h}`);
        break;
      }
      default: {
        if (headers.length === 0 || h + HEADER_SIZE > log.length) break;
        log[h + 6] = log[h + 6] === 1 ? 2 : 1; // FULL <-> FIRST with a valid CRC
        refreshCrc(log, h);
        what.push(`swap@${h}`);
      }
    }
  }
  return { log, what: what.join(' ') };
}
