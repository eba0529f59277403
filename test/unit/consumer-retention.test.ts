// Automatic retention (maxBytes, maxAge) with and without consumers: 'block' holds producers until
// consumers commit and never removes an uncommitted record; 'drop-oldest' removes it and reports the
// exact gap to the consumer and in the 'retention' event.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { WalErrorCodes, isWalError } from '../../src/errors';
import { ConsumerGapError } from '../../src/log/consumer-errors';
import { Log } from '../../src/log/log';
import type { RetentionEvent } from '../../src/log/retention';
import { tempDir } from '../support/tmp';

const seg = 8192;
const rec = (i: number): Buffer => Buffer.alloc(300, i % 251);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Appends one record; resolves 'blocked' if it is still pending after `ms`. */
async function appendOrBlocked(log: Log, i: number, ms = 300): Promise<bigint | 'blocked'> {
  const p = log.append(rec(i));
  const r = await Promise.race([p, sleep(ms).then(() => 'blocked' as const)]);
  if (r === 'blocked') p.catch(() => undefined);
  return r;
}

test('maxBytes without consumers keeps the segments under the bound and reports what it removed', async () => {
  const log = await Log.open(tempDir(), { segmentSize: seg, retention: { maxBytes: 3 * seg } });
  const events: RetentionEvent[] = [];
  log.on('retention', (e: RetentionEvent) => events.push(e));
  for (let i = 1; i <= 400; i++) await log.append(rec(i));
  await sleep(50);
  const s = log.stats();
  assert.ok(s.retention !== null && s.retention.removedSegments > 0, JSON.stringify(s.retention));
  assert.ok(events.length > 0 && events.every((e) => e.reason === 'maxBytes' && e.gaps.length === 0));
  assert.ok(s.segments <= 5, `${s.segments} segments left`);
  assert.ok(log.firstIndex > 300n, `firstIndex ${log.firstIndex}`);
  assert.equal(events[events.length - 1]!.firstIndex, log.firstIndex);
  const kept: bigint[] = [];
  for await (const e of log.entries()) kept.push(e.index);
  assert.equal(kept[0], log.firstIndex);
  assert.equal(kept[kept.length - 1], 400n);
  await log.close();
});

test("maxBytes with policy 'block' holds producers until the consumer commits; no uncommitted record is removed", async () => {
  const log = await Log.open(tempDir(), { segmentSize: seg, retention: { maxBytes: 3 * seg, policy: 'block' } });
  const c = await log.consumer('slow');
  let i = 1;
  let blocked: bigint | 'blocked' = 0n;
  for (; i < 1000; i++) {
    blocked = await appendOrBlocked(log, i);
    if (blocked === 'blocked') break;
  }
  assert.equal(blocked, 'blocked', 'producers were held');
  assert.equal(log.stats().retention!.holding, true);
  assert.equal(log.firstIndex, 1n, 'nothing uncommitted was removed');
  // The consumer drains and commits: the held append goes through, old segments go.
  const seen: bigint[] = [];
  const waitFor = log.durable(BigInt(i)).then(() => 'written');
  for (;;) {
    const b = await c.read({ maxRecords: 100, timeoutMs: 200 });
    if (b.length === 0) break;
    for (const e of b) seen.push(e.index);
    await c.commit(b[b.length - 1]!.index);
  }
  assert.equal(await waitFor, 'written');
  assert.deepEqual(
    seen,
    Array.from({ length: i }, (_, k) => BigInt(k + 1)),
    'every record delivered once, in order',
  );
  await sleep(100);
  assert.ok(log.firstIndex > 1n, 'committed segments were removed');
  assert.equal(log.stats().retention!.holding, false);
  assert.equal(log.stats().retention!.droppedRecords, 0);
  await log.close();
});

test("maxBytes with policy 'drop-oldest' removes uncommitted records and reports the exact gap", async () => {
  const log = await Log.open(tempDir(), { segmentSize: seg, retention: { maxBytes: 2 * seg, policy: 'drop-oldest' } });
  const events: RetentionEvent[] = [];
  log.on('retention', (e: RetentionEvent) => events.push(e));
  const c = await log.consumer('lagging');
  for (let i = 1; i <= 5; i++) await log.append(rec(i));
  const first = await c.read({ maxRecords: 5 });
  await c.commit(first[4]!.index);
  for (let i = 6; i <= 300; i++) await log.append(rec(i));
  await sleep(50);
  assert.ok(log.firstIndex > 6n);
  const gapEvents = events.flatMap((e) => e.gaps.filter((g) => g.consumer === 'lagging'));
  assert.ok(gapEvents.length > 0);
  assert.equal(gapEvents[0]!.from, 6n);
  const err = await c.read().then(
    () => null,
    (e: unknown) => e,
  );
  assert.ok(err instanceof ConsumerGapError, String(err));
  assert.equal(err.from, 6n);
  assert.equal(err.to, log.firstIndex - 1n);
  assert.equal(gapEvents[gapEvents.length - 1]!.to, err.to, 'the event names the same end');
  assert.equal((await c.read({ maxRecords: 1 }))[0]!.index, log.firstIndex);
  assert.ok(log.stats().retention!.droppedRecords > 0);
  await log.close();
});

test('maxAge drops closed segments older than the bound, but only once they are committed', async () => {
  const log = await Log.open(tempDir(), { segmentSize: seg, retention: { maxAge: 100, checkMs: 20 } });
  const c = await log.consumer('c');
  for (let i = 1; i <= 200; i++) await log.append(rec(i));
  await sleep(250);
  assert.equal(log.firstIndex, 1n, 'uncommitted: kept despite age');
  const b = await c.read({ maxRecords: 150 });
  await c.commit(b[b.length - 1]!.index);
  await sleep(250);
  assert.ok(log.firstIndex > 1n && log.firstIndex <= 151n, `firstIndex ${log.firstIndex}`);
  const events = log.stats().retention!;
  assert.ok(events.removedSegments > 0);
  await log.close();
});

test('retention options are validated', async () => {
  const dir = tempDir();
  const bad = (retention: unknown) =>
    assert.rejects(
      Log.open(dir, { segmentSize: seg, retention } as never),
      (e: unknown) => isWalError(e) && e.code === WalErrorCodes.INVALID_OPTION,
    );
  await bad({ maxBytes: seg }); // below 2 segments
  await bad({ policy: 'drop' });
  await bad({ maxAge: -1 });
  await bad({ maxbytes: 1e9 });
});
