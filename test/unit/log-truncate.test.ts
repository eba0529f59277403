import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { Log } from '../../src/log/log';
import { tempDir } from '../support/tmp';
import { readWithEtcdDecoder } from '../support/log-helpers';

type Op = { kind: 'append'; sizes: number[] } | { kind: 'front'; at: number } | { kind: 'back'; at: number } | { kind: 'reopen' };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 5,
    arbitrary: fc.record({
      kind: fc.constant('append' as const),
      sizes: fc.array(fc.integer({ min: 0, max: 400 }), { minLength: 1, maxLength: 12 }),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('front' as const), at: fc.double({ min: 0, max: 1, noNaN: true }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('back' as const), at: fc.double({ min: 0, max: 1, noNaN: true }) }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'reopen' as const }) },
);

const opts = { segmentSize: 4096 };

test('truncateFront/truncateBack/reopen agree with a model, for Log and for etcd reading rules', async () => {
  let counter = 0;
  await fc.assert(
    fc.asyncProperty(fc.array(opArb, { minLength: 1, maxLength: 14 }), async (ops) => {
      const dir = tempDir();
      let log = await Log.open(dir, opts);
      // model: entries[i] is the data of index first + i
      let first = 1;
      let entries: Buffer[] = [];
      try {
        for (const op of ops) {
          const last = first + entries.length - 1;
          if (op.kind === 'append') {
            const datas = op.sizes.map((n) => Buffer.alloc(n, (counter++ % 255) + 1));
            const got = await log.appendBatch(datas);
            entries.push(...datas);
            assert.equal(got, BigInt(first + entries.length - 1));
          } else if (op.kind === 'front') {
            const at = first + Math.min(entries.length, Math.floor(op.at * (entries.length + 1))); // [first, last + 1]
            await log.truncateFront(BigInt(at));
            entries = entries.slice(at - first);
            first = at;
          } else if (op.kind === 'back') {
            const at = first - 1 + Math.min(entries.length, Math.floor(op.at * (entries.length + 1))); // [first - 1, last]
            await log.truncateBack(BigInt(at));
            entries = entries.slice(0, at - first + 1);
          } else {
            await log.close();
            log = await Log.open(dir, opts);
          }
          void last;
          assert.equal(log.firstIndex, BigInt(first), `firstIndex after ${op.kind}`);
          assert.equal(log.lastIndex, BigInt(first + entries.length - 1), `lastIndex after ${op.kind}`);
        }
        const seen: Buffer[] = [];
        for await (const e of log.entries()) seen.push(Buffer.from(e.data));
        assert.deepEqual(seen, entries);
        if (entries.length > 0) {
          const k = Math.floor(entries.length / 2);
          assert.deepEqual(Buffer.from(await log.get(BigInt(first + k))), entries[k]);
        }
        await assert.rejects(log.truncateFront(BigInt(first + entries.length + 2)), { code: 'ERR_WAL_OUT_OF_RANGE' });
        if (first > 1) await assert.rejects(log.truncateBack(BigInt(first - 2)), { code: 'ERR_WAL_OUT_OF_RANGE' });
      } finally {
        await log.close();
      }
      // etcd's ReadAll from the latest snapshot: skip entries <= snapshot index; a lower index overwrites.
      const etcd = await readWithEtcdDecoder(dir);
      const start = etcd.snapshots.reduce((m, s) => (s.index > m ? s.index : m), 0n);
      let ents: Buffer[] = [];
      for (const e of etcd.entries) {
        if (e.index <= start) continue;
        ents = ents.slice(0, Number(e.index - start - 1n));
        ents.push(Buffer.from(e.data ?? []));
      }
      assert.equal(start, BigInt(first - 1), 'the latest snapshot record marks the front');
      assert.deepEqual(ents, entries);
    }),
    { numRuns: 25 },
  );
});

test('truncateFront removes whole segments below the snapshot and keeps the one etcd Open selects', async () => {
  const dir = tempDir();
  const log = await Log.open(dir, opts);
  try {
    for (let i = 0; i < 40; i++) await log.appendBatch(Array.from({ length: 5 }, () => Buffer.alloc(100, i + 1)));
    const before = log.stats().segments;
    await log.truncateFront(150n);
    const after = log.stats().segments;
    assert.ok(after < before, `segments removed (${before} -> ${after})`);
    assert.equal(log.firstIndex, 150n);
    await assert.rejects(log.get(149n), { code: 'ERR_WAL_OUT_OF_RANGE' });
    assert.equal((await log.get(150n))[0], 30);
  } finally {
    await log.close();
  }
});
