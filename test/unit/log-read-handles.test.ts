/**
 * The Log's cached read handles (src/log/segment-files.ts): get() and entries() stay right through
 * truncateFront, truncateBack, cuts and reopens with the cache warm; no descriptor outlives close()
 * or points at an unlinked segment; a handle an iteration holds is not closed under it.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { test } from 'node:test';
import fc from 'fast-check';
import { defaultBackend } from '../../src/io/backend';
import { Log } from '../../src/log/log';
import { DEFAULT_CACHED_SEGMENT_FILES, SegmentFiles } from '../../src/log/segment-files';
import { LogModel, type ModelOp } from '../support/log-model';
import { tempDir } from '../support/tmp';

const opts = { segmentSize: 4096 };

/** Paths this process has open under `dir` (from /proc/self/fd), with " (deleted)" for unlinked ones. */
function openUnder(dir: string): string[] {
  const out: string[] = [];
  for (const fd of fs.readdirSync('/proc/self/fd')) {
    try {
      const target = fs.readlinkSync(`/proc/self/fd/${fd}`);
      if (target.startsWith(dir)) out.push(target);
    } catch {
      // closed meanwhile (readdir's own descriptor)
    }
  }
  return out.sort();
}

const openFdCount = (): number => fs.readdirSync('/proc/self/fd').length;

type Op = ModelOp | { kind: 'reopen' };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 5,
    arbitrary: fc.record({
      kind: fc.constant('append' as const),
      sizes: fc.array(fc.integer({ min: 0, max: 700 }), { minLength: 1, maxLength: 16 }),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('front' as const), at: fc.double({ min: 0, max: 1, noNaN: true }) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('back' as const), at: fc.double({ min: 0, max: 1, noNaN: true }) }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'reopen' as const }) },
);

/** Every entry through get() and one pass of entries(), against the model. */
async function checkAll(log: Log, first: number, model: readonly Buffer[], what: string): Promise<void> {
  for (let k = 0; k < model.length; k++) {
    assert.deepEqual(Buffer.from(await log.get(BigInt(first + k))), model[k], `get(${first + k}) after ${what}`);
  }
  const seen: Buffer[] = [];
  for await (const e of log.entries()) seen.push(Buffer.from(e.data));
  assert.deepEqual(seen, model, `entries() after ${what}`);
}

test('get and entries agree with a model through truncations, cuts and reopens, the cache warm', async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(opArb, { minLength: 1, maxLength: 16 }), async (ops) => {
      const dir = tempDir();
      let log = await Log.open(dir, opts);
      const model = new LogModel();
      try {
        for (const op of ops) {
          if (op.kind === 'reopen') {
            await log.close();
            log = await Log.open(dir, opts);
          } else await model.apply(log, op);
          await checkAll(log, model.first, model.records, op.kind);
        }
      } finally {
        await log.close();
      }
    }),
    { numRuns: 30 },
  );
});

test('truncateBack then the same appends again: the recreated segments are read, not the unlinked ones', async () => {
  const dir = tempDir();
  const log = await Log.open(dir, opts);
  try {
    // One record per batch: the cuts fall at the same indexes the second time, so the segments
    // written again get the names of the unlinked ones.
    for (let i = 1; i <= 120; i++) await log.append(Buffer.alloc(100, 0xaa));
    const names = fs.readdirSync(dir).filter((n) => n.endsWith('.wal'));
    assert.ok(names.length >= 4, `several segments (${names.length})`);
    // Warm a handle on every segment: the cache keeps a few.
    for (let i = 120; i >= 1; i -= 7) assert.equal((await log.get(BigInt(i)))[0], 0xaa);
    await log.truncateBack(10n);
    for (let i = 11; i <= 120; i++) await log.append(Buffer.alloc(100, 0xbb));
    assert.deepEqual(
      fs.readdirSync(dir).filter((n) => n.endsWith('.wal')),
      names,
      'the same segment names again',
    );
    for (let i = 120; i >= 1; i--) assert.equal((await log.get(BigInt(i)))[0], i <= 10 ? 0xaa : 0xbb, `get(${i})`);
  } finally {
    await log.close();
  }
});

test('no descriptor outlives close(), and none stays on a segment truncateFront unlinked', async () => {
  const baseline = openFdCount();
  const dir = tempDir();
  const log = await Log.open(dir, opts);
  try {
    for (let i = 0; i < 30; i++) await log.appendBatch(Array.from({ length: 5 }, () => Buffer.alloc(100, i + 1)));
    for (let i = 150; i >= 1; i -= 3) await log.get(BigInt(i));
    const entries = log.entries();
    await entries.next(); // an iteration in progress holds its segment's handle
    await entries.return(undefined);
    await log.truncateFront(120n);
    await new Promise((r) => setTimeout(r, 50)); // closes run on the threadpool
    const deleted = openUnder(dir).filter((p) => p.endsWith('.wal (deleted)'));
    assert.deepEqual(deleted, [], 'no handle on an unlinked segment');
    assert.equal((await log.get(120n))[0], 24);
  } finally {
    await log.close();
  }
  assert.deepEqual(openUnder(dir), [], 'nothing under the log directory open after close');
  assert.equal(openFdCount(), baseline, 'the descriptor count is back to where it was');
});

test('a handle an iteration holds is not closed under it while gets cycle through other segments', async () => {
  const dir = tempDir();
  const log = await Log.open(dir, opts);
  try {
    for (let i = 0; i < 320; i++) await log.appendBatch(Array.from({ length: 5 }, () => Buffer.alloc(100, (i % 250) + 1)));
    const segments = fs.readdirSync(dir).filter((n) => n.endsWith('.wal')).length;
    assert.ok(segments > DEFAULT_CACHED_SEGMENT_FILES, `more segments (${segments}) than the cache keeps`);
    const seen: number[] = [];
    let k = 0;
    for await (const e of log.entries({ from: 1n, to: 40n })) {
      seen.push(e.data[0]!);
      // Each step, gets on every other segment evict whatever idle handle the LRU holds.
      for (let i = 1600; i > 40; i -= 30) await log.get(BigInt(i));
      k++;
    }
    assert.equal(k, 40);
    assert.deepEqual(
      seen,
      Array.from({ length: 40 }, (_, j) => Math.floor(j / 5) + 1),
    );
  } finally {
    await log.close();
  }
});

test('SegmentFiles: LRU bounded, a lent handle survives eviction and forget, close() closes all', async () => {
  const dir = tempDir();
  const paths = ['a', 'b', 'c', 'd'].map((n) => {
    fs.writeFileSync(`${dir}/${n}`, n.repeat(8));
    return `${dir}/${n}`;
  });
  const files = new SegmentFiles(defaultBackend, 2);
  const held = await files.acquire(paths[0]!);
  for (const p of paths.slice(1)) (await files.acquire(p)).release();
  assert.equal(files.openCount, 2, 'idle handles beyond the capacity are closed');
  assert.equal(held.file.closed, false, 'the lent handle is not evicted');
  const buf = new Uint8Array(8);
  assert.equal(held.file.readSync(buf, 0), 8);
  assert.equal(Buffer.from(buf).toString(), 'aaaaaaaa');
  // Forgotten while lent: still readable by its reader, never lent again, closed at release.
  files.forget(paths[0]!);
  const again = await files.acquire(paths[0]!);
  assert.notEqual(again.file, held.file, 'a forgotten handle is not lent again');
  assert.equal(held.file.closed, false);
  held.release();
  held.release(); // a second release is a no-op
  await files.settled();
  assert.equal(held.file.closed, true, 'closed once its reader released it');
  const lentAtClose = again.file;
  await files.close();
  assert.equal(lentAtClose.closed, false, 'close() does not close a handle under its reader');
  again.release();
  await files.settled();
  assert.equal(lentAtClose.closed, true);
  assert.deepEqual(openUnder(dir), [], 'nothing left open');
});
