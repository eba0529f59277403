/**
 * The LevelDB reader's fast path: the native scan (native/leveldb_scan.cc) and the runs found
 * beside a native read must agree with the TypeScript scan on any block, including damaged ones.
 * These compare two implementations; the interop suite checks the whole reader against LevelDB.
 * Runs in both modes: it loads the addon itself (a build that cannot load fails the test).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import fc from 'fast-check';
import { crc32c } from '../../src/crc32c';
import { createFallbackBackend } from '../../src/io/fallback';
import { loadNativeBackend } from '../../src/io/native';
import { BLOCK_SIZE, HEADER_SIZE, maskCrc, RecordType } from '../../src/leveldb/format';
import { scanFullRecordsJs } from '../../src/leveldb/full-scan';
import { levelDBScanFor } from '../../src/leveldb/native-scan';
import { tempDir } from '../support/tmp';

const loaded = loadNativeBackend();
const fallback = createFallbackBackend('test');
const dir = tempDir('nodewal-ldbscan-');

function native() {
  assert.ok(loaded.backend, `the addon must load for this test: ${loaded.error}`);
  return loaded.backend;
}

/** The addon's LevelDB scan, as the reader asks for it. */
function nativeScan() {
  const scan = levelDBScanFor(native());
  assert.equal(scan.kind, 'native', 'the native backend must lend the reader its LevelDB scan');
  return scan;
}

/** One physical record as the writer lays it out, optionally damaged afterwards. */
interface Physical {
  type: number;
  length: number;
  badCrc: boolean;
}

const physical = fc.record({
  type: fc.oneof(
    { weight: 6, arbitrary: fc.constant<number>(RecordType.FULL) },
    { weight: 3, arbitrary: fc.constantFrom<number>(RecordType.FIRST, RecordType.MIDDLE, RecordType.LAST) },
    { weight: 1, arbitrary: fc.integer({ min: 0, max: 255 }) },
  ),
  length: fc.oneof({ weight: 4, arbitrary: fc.integer({ min: 0, max: 300 }) }, { weight: 1, arbitrary: fc.integer({ min: 0, max: 9000 }) }),
  badCrc: fc.integer({ min: 0, max: 9 }).map((x) => x === 0),
});

/** A block of `records`, cut to at most `limit` bytes, with a few random bytes overwritten. */
function block(records: Physical[], limit: number, flips: [number, number][]): Uint8Array {
  const parts: Uint8Array[] = [];
  let size = 0;
  for (const r of records) {
    if (size + HEADER_SIZE + r.length > BLOCK_SIZE) break;
    const rec = new Uint8Array(HEADER_SIZE + r.length);
    for (let i = 0; i < r.length; i++) rec[HEADER_SIZE + i] = (i * 7 + r.length) & 0xff;
    rec[4] = r.length & 0xff;
    rec[5] = r.length >> 8;
    rec[6] = r.type;
    const crc = maskCrc(crc32c(rec.subarray(6))) ^ (r.badCrc ? 1 : 0);
    new DataView(rec.buffer).setUint32(0, crc >>> 0, true);
    parts.push(rec);
    size += rec.length;
  }
  const out = Buffer.concat(parts).subarray(0, Math.min(limit, size));
  for (const [at, value] of flips) if (out.length > 0) out[at % out.length] = value;
  return out;
}

const blockArb = fc
  .tuple(
    fc.array(physical, { maxLength: 120 }),
    fc.integer({ min: 0, max: BLOCK_SIZE }),
    fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 3 }),
  )
  .map(([records, limit, flips]) => block(records, limit, flips));

/** The run starts the reader can meet: 0, and after each record that is not a clean FULL one but whose length fits. */
function expectedRuns(b: Uint8Array, verify: boolean): [number, number][] {
  const runs: [number, number][] = [];
  let h = 0;
  while (runs.length < 4 && b.length - h >= HEADER_SIZE) {
    const stop = scanFullRecordsJs(fallback, b, h, b.length, verify);
    if (stop > h) {
      runs.push([h, stop]);
      h = stop;
      continue;
    }
    if (b.length - h < HEADER_SIZE) break;
    const length = b[h + 4]! | (b[h + 5]! << 8);
    if (length > b.length - h - HEADER_SIZE || (b[h + 6] === 0 && length === 0)) break;
    h += HEADER_SIZE + length;
  }
  return runs;
}

test('native scanLevelDBFullRecords agrees with the TypeScript scan, from any offset', () => {
  const scan = nativeScan();
  fc.assert(
    fc.property(blockArb, fc.nat(), fc.boolean(), (b, from, verify) => {
      const start = b.length === 0 ? 0 : from % (b.length + 1);
      assert.equal(scan.scanFullRecords(b, start, b.length, verify), scanFullRecordsJs(fallback, b, start, b.length, verify));
    }),
    { numRuns: 400 },
  );
});

test('the runs found beside a native read are the runs the TypeScript scan finds', async () => {
  const io = native();
  const scan = nativeScan();
  let n = 0;
  await fc.assert(
    fc.asyncProperty(fc.array(blockArb, { minLength: 1, maxLength: 4 }), fc.boolean(), async (blocks, verify) => {
      // A file of whole blocks except the last, read into one buffer per block.
      const bytes = Buffer.concat(
        blocks.map((b, i) => (i < blocks.length - 1 ? Buffer.concat([b, Buffer.alloc(BLOCK_SIZE - b.length)]) : b)),
      );
      const file = path.join(dir, `${++n}.log`);
      fs.writeFileSync(file, bytes);
      const f = await io.open(file, { read: true });
      try {
        const targets = blocks.map(() => Buffer.alloc(BLOCK_SIZE));
        const runs = new Uint32Array(targets.length * 2 * 4);
        const read = await scan.readBlocks(f, targets, 0, verify, runs);
        assert.equal(read, bytes.length);
        targets.forEach((t, i) => {
          const filled = t.subarray(0, Math.max(0, Math.min(BLOCK_SIZE, bytes.length - i * BLOCK_SIZE)));
          const got: [number, number][] = [];
          for (let k = 0; k < 4; k++) {
            const start = runs[i * 8 + 2 * k]!;
            if (start !== 0xffffffff) got.push([start, runs[i * 8 + 2 * k + 1]!]);
          }
          assert.deepEqual(got, expectedRuns(filled, verify), `block ${i}`);
        });
      } finally {
        await f.close();
      }
    }),
    { numRuns: 150 },
  );
});

test('readLevelDBBlocks rejects a runs array that does not fit the blocks', async () => {
  const io = native();
  const file = path.join(dir, 'small.log');
  fs.writeFileSync(file, Buffer.alloc(100));
  const f = await io.open(file, { read: true });
  try {
    await assert.rejects(
      nativeScan().readBlocks(f, [Buffer.alloc(BLOCK_SIZE), Buffer.alloc(BLOCK_SIZE)], 0, true, new Uint32Array(9))!,
      RangeError,
    );
  } finally {
    await f.close();
  }
});
