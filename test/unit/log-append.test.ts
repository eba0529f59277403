import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { Log } from '../../src/log/log';
import { tempDir } from '../support/tmp';
import { recordingIo, type IoEvent } from '../support/log-helpers';

const small = { segmentSize: 16 * 1024 };

test('concurrent producers get consecutive unique indexes and read back their own data', async () => {
  const log = await Log.open(tempDir(), small);
  try {
    const producers = 32;
    const perProducer = 20;
    const got = new Map<bigint, string>();
    await Promise.all(
      Array.from({ length: producers }, async (_, p) => {
        for (let i = 0; i < perProducer; i++) {
          const data = `p${p}-${i}`;
          got.set(await log.append(data), data);
        }
      }),
    );
    assert.equal(got.size, producers * perProducer);
    assert.equal(log.firstIndex, 1n);
    assert.equal(log.lastIndex, BigInt(producers * perProducer));
    for (let i = 1n; i <= log.lastIndex; i++) assert.ok(got.has(i), `index ${i} assigned`);
    for await (const e of log.entries()) assert.equal(Buffer.from(e.data).toString(), got.get(e.index));
    const s = log.stats();
    assert.equal(s.appends, producers * perProducer);
    assert.ok(s.batches < s.appends / 4, `group commit coalesced: ${s.batches} batches for ${s.appends} appends`);
    assert.ok(s.segments > 1, 'segments were cut');
  } finally {
    await log.close();
  }
});

test("'always': every append resolves only after a write with datasync covering it", async () => {
  const events: IoEvent[] = [];
  const io = recordingIo(events);
  const log = await Log.open(tempDir(), { ...small, io });
  try {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.integer({ min: 0, max: 200 }), { minLength: 1, maxLength: 30 }), async (sizes) => {
        const resolvedAfter: number[] = [];
        await Promise.all(
          sizes.map((n) =>
            log.append(new Uint8Array(n).fill(7)).then(() => {
              resolvedAfter.push(events.length);
            }),
          ),
        );
        for (const at of resolvedAfter) {
          // The last thing done to a segment before the promise resolved (the next segment is
          // prepared in the background and has its own writes).
          const last = events
            .slice(0, at)
            .reverse()
            .find((e) => e.path.endsWith('.wal'));
          assert.ok(last !== undefined && (last.kind === 'datasync' || last.datasync), 'resolved after a sync');
        }
      }),
      { numRuns: 20 },
    );
    assert.equal(log.durableIndex, log.lastIndex);
  } finally {
    await log.close();
  }
});

test('appendBatch gives consecutive indexes and resolves with the last', async () => {
  const log = await Log.open(tempDir(), small);
  try {
    await log.append('a');
    const last = await log.appendBatch(['b', 'c', Buffer.from('d')]);
    assert.equal(last, 4n);
    const seen: string[] = [];
    for await (const e of log.entries({ from: 2n })) seen.push(Buffer.from(e.data).toString());
    assert.deepEqual(seen, ['b', 'c', 'd']);
    assert.deepEqual(Buffer.from(await log.get(3n)).toString(), 'c');
    await assert.rejects(log.get(5n), { code: 'ERR_WAL_OUT_OF_RANGE' });
    await assert.rejects(log.appendBatch([]), { code: 'ERR_WAL_INVALID_ARGUMENT' });
    await assert.rejects(log.append(42 as never), TypeError);
    await assert.rejects(log.truncateBack(-1n), { code: 'ERR_WAL_INVALID_ARGUMENT' });
    await assert.rejects(log.get(1.5 as never), { code: 'ERR_WAL_INVALID_ARGUMENT' });
  } finally {
    await log.close();
  }
  await assert.rejects(log.append('late'), { code: 'ERR_WAL_CLOSED' });
});

test('entries() streams a range across segments with a small read buffer', async () => {
  const log = await Log.open(tempDir(), { segmentSize: 4096, readBufferBytes: 4096 });
  try {
    const datas = Array.from({ length: 300 }, (_, i) => Buffer.alloc(i % 97, i & 0xff));
    for (let i = 0; i < datas.length; i += 10) await log.appendBatch(datas.slice(i, i + 10));
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 0, max: 310 }), fc.integer({ min: 0, max: 310 }), async (a, b) => {
        const out: bigint[] = [];
        for await (const e of log.entries({ from: BigInt(a), to: BigInt(b) })) {
          assert.deepEqual(Buffer.from(e.data), datas[Number(e.index) - 1]);
          out.push(e.index);
        }
        const lo = Math.max(a, 1);
        const hi = Math.min(b, 300);
        assert.equal(out.length, Math.max(0, hi - lo + 1));
        if (out.length > 0) assert.equal(out[0], BigInt(lo));
      }),
      { numRuns: 30 },
    );
    for (const i of [1, 77, 150, 300]) assert.deepEqual(Buffer.from(await log.get(BigInt(i))), datas[i - 1]);
  } finally {
    await log.close();
  }
});

test('slowSync fires when a sync takes longer than slowSyncMs', async () => {
  const log = await Log.open(tempDir(), { ...small, io: recordingIo([], { delayMs: 15 }), slowSyncMs: 5 });
  try {
    const events: { durationMs: number; records: number }[] = [];
    log.on('slowSync', (e) => events.push(e));
    await log.append('slow');
    assert.equal(events.length, 1);
    assert.ok(events[0]!.durationMs >= 5);
    assert.equal(events[0]!.records, 1);
    const s = log.stats().fsyncLatency;
    assert.ok(s.count >= 1 && s.max >= 5000 && s.p50 <= s.max);
  } finally {
    await log.close();
  }
});

test('a second writer on the same directory is refused with ERR_WAL_LOCKED', async () => {
  const dir = tempDir();
  const log = await Log.open(dir, small);
  try {
    await assert.rejects(Log.open(dir, small), { code: 'ERR_WAL_LOCKED' });
  } finally {
    await log.close();
  }
  const again = await Log.open(dir, small);
  await again.close();
});

test('a failed write+fdatasync fails every pending append and every later one with ERR_WAL_FAILED', async () => {
  const dir = tempDir();
  let failNext = false;
  const base = recordingIo([]);
  const io = {
    ...base,
    open: async (p: string, o?: Parameters<typeof base.open>[1]) => {
      const f = await base.open(p, o);
      const write = f.write.bind(f);
      f.write = async (buffers, position, wo) => {
        if (wo?.datasync && failNext && p.endsWith('.wal')) {
          const err: NodeJS.ErrnoException = new Error('EIO: i/o error, fdatasync');
          err.code = 'EIO';
          throw err;
        }
        return write(buffers, position, wo);
      };
      return f;
    },
  };
  const log = await Log.open(dir, { ...small, io });
  assert.equal(await log.append('ok'), 1n);
  failNext = true;
  const results = await Promise.allSettled([log.append('a'), log.appendBatch(['b', 'c']), log.append('d')]);
  for (const r of results) {
    assert.equal(r.status, 'rejected');
    assert.equal((r as PromiseRejectedResult).reason.code, 'ERR_WAL_FAILED');
    assert.equal((r as PromiseRejectedResult).reason.cause.code, 'EIO');
  }
  await assert.rejects(log.append('later'), { code: 'ERR_WAL_FAILED' });
  await assert.rejects(log.sync(), { code: 'ERR_WAL_FAILED' });
  await log.close();
  failNext = false;
  // Reopening recovers what was durable.
  const again = await Log.open(dir, small);
  try {
    assert.ok(again.lastIndex >= 1n);
    assert.equal(Buffer.from(await again.get(1n)).toString(), 'ok');
  } finally {
    await again.close();
  }
});
