// Safe-integer numbers are accepted wherever an index is expected; results stay bigints.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { Log } from '../../src/log/log';
import { WAL } from '../../src/etcd/wal';
import { indexToBigint, indexToNumber } from '../../src/index-arg';
import { isWalError } from '../../src/errors';
import { tempDir } from '../support/tmp';

const invalid = (err: unknown): boolean => isWalError(err, 'ERR_WAL_INVALID_ARGUMENT');

test('property: a number and the equal bigint are the same index; anything else is refused', () => {
  fc.assert(
    fc.property(fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }), (n) => {
      assert.equal(indexToNumber('i', n), n);
      assert.equal(indexToNumber('i', BigInt(n)), n);
      assert.equal(indexToBigint('i', n), BigInt(n));
    }),
  );
  for (const bad of [-1, 1.5, Number.NaN, Infinity, Number.MAX_SAFE_INTEGER + 1, -1n, '3', null]) {
    assert.throws(() => indexToNumber('i', bad as never), invalid, String(bad));
  }
  assert.throws(() => indexToNumber('i', 2n ** 53n), invalid);
  assert.equal(indexToBigint('i', 2n ** 64n - 1n), 2n ** 64n - 1n);
  assert.throws(() => indexToBigint('i', 2n ** 64n), invalid);
  assert.throws(() => indexToBigint('i', 2 ** 53), invalid);
});

test('Log: get, entries, tail, durable, truncateFront/Back take numbers and return bigints', async () => {
  const log = await Log.open(tempDir(), { segmentSize: 64 * 1024 });
  try {
    await log.appendBatch(['a', 'b', 'c', 'd', 'e']);
    assert.equal(Buffer.from(await log.get(1)).toString(), 'a');
    const seen: bigint[] = [];
    for await (const e of log.entries({ from: 2, to: 3 })) seen.push(e.index);
    assert.deepEqual(seen, [2n, 3n]);
    for await (const e of log.tail({ from: 5 })) {
      assert.equal(e.index, 5n);
      break;
    }
    await log.durable(5);
    await log.truncateBack(4);
    await log.truncateFront(2);
    assert.equal(log.firstIndex, 2n);
    assert.equal(log.lastIndex, 4n);
    await assert.rejects(log.get(1.5), invalid);
    await assert.rejects(log.get(-1), invalid);
    await assert.rejects(log.truncateFront(Number.MAX_SAFE_INTEGER + 2), invalid);
  } finally {
    await log.close();
  }
});

test('WAL: open/openForRead/verify take numbers in the snapshot; releaseLockTo takes a number', async () => {
  const dir = tempDir();
  const w = await WAL.create(dir, Buffer.from('m'));
  await w.save({ term: 1n, vote: 0n, commit: 1n }, [{ term: 1n, index: 1n, type: 0, data: Buffer.from('x') }]);
  await w.close();
  const r = await WAL.openForRead(dir, { index: 0, term: 0 });
  assert.equal((await r.readAll()).entries[0]!.index, 1n);
  await r.close();
  assert.equal((await WAL.verify(dir, { index: 0, term: 0 })).commit, 1n);
  const o = await WAL.open(dir, { index: 0, term: 0 });
  await o.readAll();
  await o.releaseLockTo(1);
  await assert.rejects(o.releaseLockTo(-3), invalid);
  await o.close();
  await assert.rejects(WAL.openForRead(dir, { index: 0.5, term: 0 }), invalid);
});
