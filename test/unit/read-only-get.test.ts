/**
 * A read-only open's get() at random indexes starts from the checkpoints of what it decoded before
 * (read-only.ts, `seen`): against a model, through appends of varied sizes across small segments,
 * truncateBack with new records of other sizes behind it (old checkpoints then point into other
 * frames), and forced truncateFront.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { test } from 'node:test';
import fc from 'fast-check';
import { Log } from '../../src/log/log';
import type { ReadOnlyLog } from '../../src/log/read-only';
import { LogModel, type ModelOp } from '../support/log-model';
import { tempDir } from '../support/tmp';

type Op = ModelOp | { kind: 'gets'; at: number[] };

const fraction = fc.double({ min: 0, max: 1, noNaN: true });
const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant('append' as const),
      sizes: fc.array(fc.integer({ min: 0, max: 900 }), { minLength: 1, maxLength: 120 }),
    }),
  },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('back' as const), at: fraction }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('front' as const), at: fraction }) },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('gets' as const), at: fc.array(fraction, { minLength: 1, maxLength: 12 }) }) },
);

/** Syncs the writer and waits until the read-only open sees its durable index (published after the sync). */
async function caughtUp(w: Log, ro: ReadOnlyLog): Promise<void> {
  await w.sync();
  // The writer rewrites its durable mark at most once a millisecond, by a timer set before the sync
  // resolved: past it the mark is final. Equal durable indexes alone can be a stale mark's (the
  // same count of records before a truncateBack as after it), and a truncateFront moves only the first.
  await new Promise((r) => setTimeout(r, 5));
  await ro.refresh();
  for (let tries = 0; ro.durableIndex !== w.durableIndex || ro.firstIndex !== w.firstIndex; tries++) {
    assert.ok(tries < 2000, `the read-only open sees ${ro.durableIndex}, the writer ${w.durableIndex}`);
    await ro.refresh();
    await new Promise((r) => setTimeout(r, 1));
  }
}

test('read-only get() after truncateBack does not start from a checkpoint past the cut', async () => {
  const dir = tempDir();
  const w = await Log.open(dir, { segmentSize: 64 * 1024 });
  const ro = await Log.open(dir, { readOnly: true, pollMs: 1000 });
  try {
    await w.appendBatch(Array.from({ length: 200 }, (_, i) => Buffer.alloc(100, i + 1)));
    await caughtUp(w, ro);
    // Decodes the segment up to 190, leaving checkpoints every 2 KiB behind.
    assert.deepEqual(Buffer.from(await ro.get(190n)), Buffer.alloc(100, 190));
    await w.truncateBack(100n);
    // Other sizes: every old checkpoint past the cut now points into the middle of a frame.
    const later = Array.from({ length: 100 }, (_, i) => Buffer.alloc(37 + (i % 5), 255 - (i % 50)));
    await w.appendBatch(later);
    await caughtUp(w, ro);
    for (let i = 101; i <= 200; i++) assert.deepEqual(Buffer.from(await ro.get(BigInt(i))), later[i - 101], `get(${i})`);
  } finally {
    await ro.close();
    await w.close();
  }
});

test('read-only get() at random indexes agrees with a model through truncations', async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(opArb, { minLength: 2, maxLength: 14 }), async (ops) => {
      const dir = tempDir();
      const w = await Log.open(dir, { segmentSize: 16 * 1024 });
      const ro = await Log.open(dir, { readOnly: true, pollMs: 1000 });
      const model = new LogModel();
      try {
        for (const op of ops) {
          if (op.kind !== 'gets') await model.apply(w, op, { force: true });
          else {
            await caughtUp(w, ro);
            const n = model.records.length;
            if (n === 0) continue;
            for (const f of op.at) {
              const i = model.first + Math.min(n - 1, Math.floor(f * n));
              assert.deepEqual(Buffer.from(await ro.get(BigInt(i))), model.at(i), `get(${i})`);
            }
          }
        }
      } finally {
        await ro.close();
        await w.close();
      }
    }),
    { numRuns: 60 },
  );
});

/** Segment files of `dir` this process holds open although they were unlinked. */
function deletedSegmentsHeld(dir: string): string[] {
  const held: string[] = [];
  for (const fd of fs.readdirSync('/proc/self/fd')) {
    let target: string;
    try {
      target = fs.readlinkSync(`/proc/self/fd/${fd}`);
    } catch {
      continue; // closed meanwhile (readdir's own descriptor)
    }
    if (target.startsWith(dir) && target.endsWith('.wal (deleted)')) held.push(target);
  }
  return held;
}

/** Waits (up to 2 s) for `dir`'s unlinked segments to be let go of: descriptors close asynchronously. */
async function letGo(dir: string, when: string): Promise<void> {
  for (let tries = 0; deletedSegmentsHeld(dir).length > 0; tries++) {
    assert.ok(tries < 200, `${when}: still held: ${deletedSegmentsHeld(dir).join(', ')}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

test('read-only get() keeps no descriptor of a segment the writer removed', async () => {
  const dir = fs.realpathSync(tempDir());
  const w = await Log.open(dir, { segmentSize: 16 * 1024 });
  const ro = await Log.open(dir, { readOnly: true, pollMs: 1000 });
  try {
    const records = Array.from({ length: 600 }, (_, i) => Buffer.alloc(100, i % 251));
    // In batches: a cut comes between batches, so these fill ~5 segments.
    for (let i = 0; i < 600; i += 20) await w.appendBatch(records.slice(i, i + 20));
    await caughtUp(w, ro);
    // Twice over every record: the first pass decodes and leaves checkpoints, the second is the
    // fast path's, on a descriptor per segment it keeps.
    for (let pass = 0; pass < 2; pass++) {
      for (let i = 1; i <= 600; i += 7) assert.deepEqual(Buffer.from(await ro.get(BigInt(i))), records[i - 1], `get(${i})`);
    }
    await w.truncateFront(450n, { force: true });
    await caughtUp(w, ro);
    await letGo(dir, 'after truncateFront');
    await w.truncateBack(500n); // unlinks the segments after the one holding 500
    await w.appendBatch(records.slice(0, 50));
    await caughtUp(w, ro);
    await letGo(dir, 'after truncateBack');
    for (let i = 450; i <= 550; i += 3) {
      assert.deepEqual(Buffer.from(await ro.get(BigInt(i))), records[i <= 500 ? i - 1 : i - 501], `get(${i}) after the cuts`);
    }
  } finally {
    await ro.close();
    await w.close();
  }
});
