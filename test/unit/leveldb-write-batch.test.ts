import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { isWalError, WalErrorCodes } from '../../src/errors';
import { decodeWriteBatch, encodeWriteBatch, type WriteBatchOp } from '../../src/leveldb/write-batch';

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');

test('the WriteBatch of a LevelDB 1.23 log (put hello -> world, sequence 1), spec §2', () => {
  const bytes = hex('01 00 00 00 00 00 00 00 01 00 00 00 01 05 68 65 6c 6c 6f 05 77 6f 72 6c 64');
  const batch = decodeWriteBatch(bytes);
  assert.equal(batch.sequence, 1n);
  assert.equal(batch.ops.length, 1);
  const op = batch.ops[0]!;
  assert.equal(op.type, 'put');
  assert.equal(Buffer.from(op.key).toString(), 'hello');
  assert.equal(op.type === 'put' && Buffer.from(op.value).toString(), 'world');
  assert.ok(Buffer.from(encodeWriteBatch(batch)).equals(bytes));
});

test('delete, empty key and value, 64-bit sequence', () => {
  const bytes = encodeWriteBatch({
    sequence: 0xfedcba9876543210n,
    ops: [
      { type: 'delete', key: new Uint8Array(0) },
      { type: 'put', key: new Uint8Array(0), value: new Uint8Array(0) },
    ],
  });
  assert.ok(Buffer.from(bytes).equals(hex('1032547698badcfe 02000000 00 00 01 00 00')));
  assert.equal(decodeWriteBatch(bytes).sequence, 0xfedcba9876543210n);
});

test('varint lengths of 128 and more bytes', () => {
  const key = new Uint8Array(300).fill(7);
  const bytes = encodeWriteBatch({ sequence: 5n, ops: [{ type: 'delete', key }] });
  assert.deepEqual([...bytes.subarray(12, 15)], [0x00, 0xac, 0x02]);
  assert.deepEqual(decodeWriteBatch(bytes).ops[0]!.key, key);
});

test('round trip', () => {
  const op: fc.Arbitrary<WriteBatchOp> = fc.oneof(
    fc.record({ type: fc.constant('put' as const), key: fc.uint8Array({ maxLength: 200 }), value: fc.uint8Array({ maxLength: 300 }) }),
    fc.record({ type: fc.constant('delete' as const), key: fc.uint8Array({ maxLength: 200 }) }),
  );
  fc.assert(
    fc.property(fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }), fc.array(op, { maxLength: 20 }), (sequence, ops) => {
      const decoded = decodeWriteBatch(encodeWriteBatch({ sequence, ops }));
      assert.equal(decoded.sequence, sequence);
      assert.deepEqual(
        decoded.ops.map((o) => ({ ...o })),
        ops.map((o) => ({ ...o })),
      ); // fast-check records have no prototype
    }),
    { numRuns: 200 },
  );
});

function rejects(bytes: Uint8Array, message: string): void {
  assert.throws(
    () => decodeWriteBatch(bytes),
    (err: unknown) => isWalError(err, WalErrorCodes.BAD_WRITE_BATCH) && err.message.startsWith(message),
  );
}

test("malformed batches fail with LevelDB's messages (db/write_batch.cc)", () => {
  rejects(hex('01000000000000000000'), 'malformed WriteBatch (too small)');
  rejects(hex('0100000000000000 01000000 01 05 6869'), 'bad WriteBatch Put');
  rejects(hex('0100000000000000 01000000 01 01 61 02 62'), 'bad WriteBatch Put');
  rejects(hex('0100000000000000 01000000 00 03 6869'), 'bad WriteBatch Delete');
  rejects(hex('0100000000000000 01000000 00 ffffffffff'), 'bad WriteBatch Delete'); // 5-byte varint, too long
  rejects(hex('0100000000000000 01000000 00 ffffffffff80'), 'bad WriteBatch Delete'); // 6th continuation byte
  rejects(hex('0100000000000000 01000000 02 00'), 'unknown WriteBatch tag');
  rejects(hex('0100000000000000 02000000 00 00'), 'WriteBatch has wrong count');
  rejects(hex('0100000000000000 00000000 00 00'), 'WriteBatch has wrong count');
});

test('a 5th varint byte keeps only its low 4 bits, as LevelDB (0x80 80 80 80 10 = 0)', () => {
  const batch = decodeWriteBatch(hex('0100000000000000 01000000 00 8080808010'));
  assert.equal(batch.ops[0]!.key.length, 0);
});
