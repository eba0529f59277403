import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { encodeEntry, RecordType } from '../../src/etcd/codec';
import { encodeFrames } from '../../src/etcd/frame';
import { defaultBackend } from '../../src/io/backend';
import { putUvarint, uvarintBytes, uvarintSize } from '../../src/codec/varint';
import { encodeEntryBatch, encodeSegmentHeader, entryBatchCapacity } from '../../src/log/frames';

const io = defaultBackend;

test('encodeEntryBatch writes the same bytes as framing marshalled entries, into a dirty buffer at any offset', () => {
  fc.assert(
    fc.property(
      fc.array(fc.uint8Array({ maxLength: 300 }), { minLength: 1, maxLength: 40 }),
      fc.integer({ min: 1, max: 2 ** 40 }),
      fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
      fc.integer({ min: 0, max: 0xffffffff }),
      fc.integer({ min: 0, max: 100 }),
      (datas, firstIndex, term, seed, start) => {
        const bytes = datas.reduce((n, d) => n + d.length, 0);
        const out = new Uint8Array(start + entryBatchCapacity(bytes, datas.length)).fill(0xee);
        const r = encodeEntryBatch(
          io,
          out,
          start,
          datas,
          0,
          datas.length,
          firstIndex,
          uvarintBytes(term),
          seed,
          new Uint32Array(2 * datas.length),
        );
        const entries = datas.map((data, i) => ({ term, index: BigInt(firstIndex + i), type: 0, data }));
        // reference: each entry marshalled on its own, then framed record by record
        const expected = encodeFrames(
          io,
          entries.map((e) => ({ type: RecordType.Entry, data: encodeEntry(e) })),
          seed,
        );
        assert.deepEqual(out.subarray(start, r.end), expected.bytes);
        assert.equal(r.crc, expected.crc);
        assert.ok(
          out.subarray(0, start).every((b) => b === 0xee),
          'bytes before start untouched',
        );
      },
    ),
    { numRuns: 200 },
  );
});

test('the first segment header is crc, nil metadata and snapshot {0,0} frames (etcd Create(dir, nil))', () => {
  const h = encodeSegmentHeader(io, 0, true);
  // crc record: N=4 (08 04 10 00), padded by 4; metadata record without data: N=4 (08 01 10 00).
  assert.deepEqual(Array.from(h.bytes.subarray(0, 16)), [4, 0, 0, 0, 0, 0, 0, 0x84, 0x08, 0x04, 0x10, 0, 0, 0, 0, 0]);
  assert.deepEqual(Array.from(h.bytes.subarray(16, 32)), [4, 0, 0, 0, 0, 0, 0, 0x84, 0x08, 0x01, 0x10, 0, 0, 0, 0, 0]);
  // snapshot record: data 08 00 10 00, crc = crc32c(that) since the chain starts at 0.
  const snapData = Uint8Array.from([0x08, 0x00, 0x10, 0x00]);
  assert.equal(h.crc, io.crc32c(snapData, 0));
  assert.equal(h.bytes.length % 8, 0);
  const cont = encodeSegmentHeader(io, 0x12345678, false);
  assert.equal(cont.crc, 0x12345678, 'a header without data keeps the chain value');
});

test('uvarintSize/putUvarint agree with a BigInt reference over the whole safe-integer range', () => {
  fc.assert(
    fc.property(fc.oneof(fc.integer({ min: 0, max: 2 ** 32 }), fc.maxSafeNat()), (n) => {
      const out = new Uint8Array(12);
      const end = putUvarint(out, 1, n);
      let v = 0n;
      let shift = 0n;
      for (let i = 1; i < end; i++) {
        v |= BigInt(out[i]! & 0x7f) << shift;
        shift += 7n;
        assert.equal(out[i]! >= 0x80, i < end - 1, 'continuation bits');
      }
      assert.equal(v, BigInt(n));
      assert.equal(end - 1, uvarintSize(n));
      assert.deepEqual(out.subarray(1, end), uvarintBytes(BigInt(n)));
    }),
    { numRuns: 500 },
  );
});
