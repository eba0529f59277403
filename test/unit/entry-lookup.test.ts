/**
 * get()'s fast path (src/log/entry-lookup.ts): over frames the etcd encoder wrote, it finds every
 * entry with its bytes; over a span with one byte changed it never returns other bytes than the
 * ones written, and it never returns an entry whose own frame was changed. Then the same through
 * a live Log whose segment is damaged under it: get() gives the written bytes or a WalError.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { test } from 'node:test';
import fc from 'fast-check';
import { type EntrySpan, RecordType, encodeEntry } from '../../src/etcd/codec';
import { encodeFrames, type RecordInput } from '../../src/etcd/frame';
import { WalError } from '../../src/errors';
import { defaultBackend as io } from '../../src/io/backend';
import { findEntryInSpan } from '../../src/log/entry-lookup';
import { Log } from '../../src/log/log';
import { tempDir } from '../support/tmp';

interface Span {
  bytes: Uint8Array;
  /** Entry index -> [frame start, frame end) in bytes. */
  frames: Map<number, [number, number]>;
  datas: Map<number, Uint8Array>;
  crcBefore: number;
}

/** Entries first.. with the given data, a metadata or crc record wherever `extra` says, framed from `crcBefore`. */
function span(first: number, datas: Uint8Array[], extra: boolean[], crcBefore: number): Span {
  const records: RecordInput[] = [];
  const owner: number[] = [];
  datas.forEach((data, k) => {
    if (extra[k]) {
      records.push({ type: k % 2 === 0 ? RecordType.Metadata : RecordType.Crc, data: k % 2 === 0 ? new Uint8Array([k]) : null });
      owner.push(-1);
    }
    records.push({ type: RecordType.Entry, data: encodeEntry({ term: 3n, index: BigInt(first + k), type: 0, data }) });
    owner.push(first + k);
  });
  const { bytes, frameEnds } = encodeFrames(io, records, crcBefore);
  const frames = new Map<number, [number, number]>();
  owner.forEach((index, r) => {
    if (index >= 0) frames.set(index, [r === 0 ? 0 : frameEnds[r - 1]!, frameEnds[r]!]);
  });
  return { bytes, frames, datas: new Map(datas.map((d, k) => [first + k, d])), crcBefore };
}

const spanArb = fc.record({
  first: fc.integer({ min: 1, max: 2 ** 40 }),
  crcBefore: fc.integer({ min: 0, max: 2 ** 32 - 1 }),
  entries: fc.array(fc.record({ data: fc.uint8Array({ maxLength: 300 }), extra: fc.boolean() }), { minLength: 1, maxLength: 20 }),
});

const out = (): EntrySpan => ({ type: 0, index: 0, dataStart: 0, dataEnd: 0 });

test('finds every entry the encoder framed, with its bytes', () => {
  fc.assert(
    fc.property(spanArb, ({ first, crcBefore, entries }) => {
      const s = span(
        first,
        entries.map((e) => e.data),
        entries.map((e) => e.extra),
        crcBefore,
      );
      for (const [index, data] of s.datas) {
        const at = out();
        assert.ok(findEntryInSpan(io, s.bytes, s.bytes.length, index, crcBefore, at), `entry ${index}`);
        assert.deepEqual(s.bytes.subarray(at.dataStart, at.dataEnd), data);
      }
      // Not there: before the first, after the last.
      assert.equal(findEntryInSpan(io, s.bytes, s.bytes.length, first - 1, crcBefore, out()), false);
      assert.equal(findEntryInSpan(io, s.bytes, s.bytes.length, first + entries.length, crcBefore, out()), false);
      // The wrong starting CRC fails the first entry's check, when it is the span's first frame.
      if (!entries[0]!.extra) assert.equal(findEntryInSpan(io, s.bytes, s.bytes.length, first, (crcBefore ^ 1) >>> 0, out()), false);
    }),
    { numRuns: 300 },
  );
});

test('with one byte changed: never other bytes, never an entry whose frame changed', () => {
  let refused = 0;
  fc.assert(
    fc.property(spanArb, fc.double({ min: 0, max: 1, noNaN: true }), fc.integer({ min: 1, max: 255 }), (g, where, xor) => {
      const s = span(
        g.first,
        g.entries.map((e) => e.data),
        g.entries.map((e) => e.extra),
        g.crcBefore,
      );
      const pos = Math.min(s.bytes.length - 1, Math.floor(where * s.bytes.length));
      const damaged = s.bytes.slice();
      damaged[pos]! ^= xor;
      for (const [index, data] of s.datas) {
        const at = out();
        const [start] = s.frames.get(index)!;
        const found = findEntryInSpan(io, damaged, damaged.length, index, g.crcBefore, at);
        if (!found) {
          refused++;
          continue;
        }
        assert.deepEqual(damaged.subarray(at.dataStart, at.dataEnd), data, `entry ${index} with byte ${pos} changed`);
        // The bytes its reading depends on: the length word's low 7 (the 8th holds only the
        // padding count, and bits etcd ignores) and the record; not the zero padding after it.
        const significant = (pos >= start && pos < start + 7) || (pos >= start + 8 && pos < at.dataEnd);
        assert.ok(!significant, `entry ${index} returned with byte ${pos} of its frame changed`);
      }
    }),
    { numRuns: 500 },
  );
  assert.ok(refused > 0);
});

test('a Log whose segment is damaged under it: get() gives the written bytes or a WalError', async () => {
  const dir = tempDir();
  const log = await Log.open(dir, { segmentSize: 64 * 1024 });
  const datas = Array.from({ length: 300 }, (_, i) => Buffer.alloc(50 + (i % 40) * 7, (i % 251) + 1));
  await log.appendBatch(datas);
  await log.sync();
  await log.close();
  const seg = fs
    .readdirSync(dir)
    .filter((f) => f.endsWith('.wal'))
    .sort()[0]!;
  const file = `${dir}/${seg}`;
  const original = fs.readFileSync(file);
  let errors = 0;
  try {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 0, max: 40_000 }), fc.integer({ min: 1, max: 255 }), async (pos, xor) => {
        fs.writeFileSync(file, original);
        // Opened on good bytes (the open scans them), damaged afterwards, as a disk might.
        const l = await Log.open(dir, { segmentSize: 64 * 1024, mustExist: true });
        try {
          // Warm the read handle so the fast path is the one that reads.
          await l.get(1);
          const fd = fs.openSync(file, 'r+');
          fs.writeSync(fd, Buffer.from([original[pos]! ^ xor]), 0, 1, pos);
          fs.closeSync(fd);
          for (let i = 1; i <= datas.length; i++) {
            try {
              assert.deepEqual(Buffer.from(await l.get(i)), datas[i - 1], `get(${i}) with byte ${pos} changed`);
            } catch (err) {
              if (err instanceof assert.AssertionError) throw err;
              assert.ok(err instanceof WalError, String(err));
              errors++;
            }
          }
        } finally {
          await l.close();
        }
      }),
      { numRuns: 40 },
    );
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  assert.ok(errors > 0);
});
