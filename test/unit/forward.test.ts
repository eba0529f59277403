/**
 * forward() over a real Log and its durable consumer, with in-memory sinks that fail on purpose:
 * resume after the sink's last index, commits only of what the sink acknowledged (in order, never
 * past a failed batch), a permanent error stops it with the position untouched, stop() commits
 * what was acknowledged, batches fit the sink's byte budget. Each test with a sink taking records
 * and with one taking encoded batches (Sink#sendBatch, read with Consumer#readEncoded). Runs on
 * both backends.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { isWalError, WalErrorCodes } from '../../src/errors';
import { decodeBatch, type EncodedBatch, encodedRecordSize } from '../../src/forward/batch';
import { forward } from '../../src/forward/forward';
import type { Sink, SinkRecord } from '../../src/forward/sink';
import { Log } from '../../src/log/log';
import { tempDir } from '../support/tmp';

const payload = (i: number): Buffer => Buffer.from(`record-${i}-${'x'.repeat(i % 37)}`);

async function filledLog(n: number): Promise<{ log: Log; dir: string }> {
  const dir = tempDir('nodewal-forward-');
  const log = await Log.open(dir);
  const datas: Buffer[] = [];
  for (let i = 1; i <= n; i++) datas.push(payload(i));
  if (n > 0) await log.appendBatch(datas);
  return { log, dir };
}

/** Stores batches in memory; `lastForwarded` reads its own contents, as the JetStream sink reads the stream. */
class MemorySink implements Sink {
  readonly batches: SinkRecord[][] = [];
  maxBatchBytes?: number;
  maxInFlight?: number;
  failAt: ((batch: readonly SinkRecord[]) => Error | null) | null = null;
  delayMs = 0;
  async lastForwarded(): Promise<bigint> {
    const last = this.batches.at(-1);
    return last ? last.at(-1)!.index : 0n;
  }
  async send(records: readonly SinkRecord[], _opts?: { signal?: AbortSignal }): Promise<void> {
    if (this.delayMs > 0) await new Promise((r) => setTimeout(r, this.delayMs * Math.random()));
    const err = this.failAt?.(records) ?? null;
    if (err) throw err;
    const expected = (await this.lastForwarded()) + 1n;
    assert.equal(records[0]!.index, expected, 'batches arrive in order, gap-free');
    this.batches.push(records.map((r) => ({ ...r, data: Uint8Array.from(r.data) })));
  }
  records(): SinkRecord[] {
    return this.batches.flat();
  }
}

/**
 * The same store taking batches encoded (`sendBatch`): the forwarder then reads with
 * `Consumer#readEncoded`. Decoded as a downstream reader would, then stored as `send` stores.
 */
class MemoryBatchSink extends MemorySink {
  async sendBatch(batch: EncodedBatch, opts?: { signal?: AbortSignal }): Promise<void> {
    const decoded = decodeBatch(batch.headers, batch.body);
    await this.send(
      decoded.records.map((r) => ({ logId: decoded.logId, index: r.index, data: r.data })),
      opts,
    );
  }
}

/** Each test twice: with a sink taking records, and with one taking encoded batches. */
function both(name: string, fn: (newSink: () => MemorySink) => Promise<void>): void {
  test(`${name} (records)`, () => fn(() => new MemorySink()));
  test(`${name} (encoded batches)`, () => fn(() => new MemoryBatchSink()));
}

async function until(cond: () => boolean, ms = 10000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 5));
  }
}

both('forwards every record once, in order, with its bytes and log id; stop() commits through the last ack', async (newSink) => {
  const { log } = await filledLog(5000);
  const sink = newSink();
  const fw = await forward(log, { consumer: 'fw', sink });
  await until(() => sink.records().length === 5000);
  await log.append('late');
  await until(() => sink.records().length === 5001);
  await fw.stop();
  const got = sink.records();
  assert.deepEqual(
    got.map((r) => r.index),
    Array.from({ length: 5001 }, (_, i) => BigInt(i + 1)),
  );
  for (const r of got.slice(0, 5000)) assert.deepEqual(Buffer.from(r.data), payload(Number(r.index)));
  assert.ok(got.every((r) => r.logId === log.id) && /^[0-9a-f]{32}$/.test(log.id));
  const s = fw.stats();
  assert.equal(s.state, 'stopped');
  assert.equal(s.forwardedRecords, 5001);
  assert.equal(s.lastForwarded, 5001n);
  assert.equal(s.committed, 5001n);
  const c = await log.consumer('fw');
  assert.equal(c.committed, 5001n);
  await c.close();
  await log.close();
});

both("resumes after the sink's last index, not the commit: nothing twice after an ack whose commit was lost", async (newSink) => {
  const { log } = await filledLog(100);
  const sink = newSink();
  // The downstream already holds 1..60 (an ack the crashed forwarder never committed).
  sink.batches.push(Array.from({ length: 60 }, (_, i) => ({ logId: log.id, index: BigInt(i + 1), data: payload(i + 1) })));
  const c = await log.consumer('fw');
  await c.read({ maxRecords: 10 });
  await c.commit(10n);
  await c.close();
  const fw = await forward(log, { consumer: 'fw', sink });
  assert.equal(fw.stats().resumedAfter, 60n);
  assert.equal(fw.stats().resumedFrom, 'sink');
  await until(() => sink.records().length === 100);
  await fw.stop();
  assert.deepEqual(
    sink.records().map((r) => r.index),
    Array.from({ length: 100 }, (_, i) => BigInt(i + 1)),
  );
  await log.close();
});

both('a permanent error stops the forwarder with that error; the commit stays at the last acknowledged batch', async (newSink) => {
  const { log } = await filledLog(1000);
  const sink = newSink();
  sink.maxBatchBytes = 2000;
  const boom = Object.assign(new Error('permanent'), { code: 'TEST_PERMANENT' });
  sink.failAt = (b) => (b.some((r) => r.index === 500n) ? boom : null);
  const fw = await forward(log, { consumer: 'fw', sink });
  await assert.rejects(fw.done, (e) => e === boom);
  const acked = sink.records().at(-1)!.index;
  assert.ok(acked < 500n && acked > 100n);
  assert.equal(fw.stats().state, 'failed');
  assert.equal(fw.stats().error, boom);
  const c = await log.consumer('fw');
  assert.equal(c.committed, acked);
  await c.close();
  await log.close();
});

both('a start-up error (the sink cannot say what it holds) rejects forward() and leaves the consumer untouched', async (newSink) => {
  const { log } = await filledLog(10);
  const sink = newSink();
  sink.lastForwarded = () => Promise.reject(Object.assign(new Error('no stream'), { code: 'X' }));
  await assert.rejects(forward(log, { consumer: 'fw', sink }), /no stream/);
  const c = await log.consumer('fw'); // the name was released
  assert.equal(c.committed, 0n);
  await c.close();
  await log.close();
});

both(
  'property: batches respect maxBatchBytes (encoded) and maxRecords; with several in flight, commits follow acks in order',
  async (newSink) => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 64, max: 4000 }),
        fc.integer({ min: 1, max: 50 }),
        fc.integer({ min: 1, max: 4 }),
        async (maxBatchBytes, maxRecords, maxInFlight) => {
          const { log } = await filledLog(300);
          const sink = newSink();
          sink.maxBatchBytes = maxBatchBytes;
          sink.maxInFlight = maxInFlight;
          sink.delayMs = 2;
          // Out-of-order completion must not reorder storage: serialise stores behind a chain.
          let chain = Promise.resolve();
          const store = MemorySink.prototype.send.bind(sink);
          sink.send = (records) => {
            const p = chain.then(() => store(records));
            chain = p.catch(() => undefined);
            return p;
          };
          const fw = await forward(log, { consumer: 'fw', sink, maxRecords });
          await until(() => sink.records().length === 300);
          await fw.stop();
          for (const b of sink.batches) {
            assert.ok(b.length <= maxRecords);
            const size = b.reduce((n, r) => n + encodedRecordSize(r.data.length), 0);
            assert.ok(b.length === 1 || size <= maxBatchBytes, `batch of ${b.length} is ${size} bytes`);
          }
          assert.deepEqual(
            sink.records().map((r) => r.index),
            Array.from({ length: 300 }, (_, i) => BigInt(i + 1)),
          );
          assert.equal(fw.stats().committed, 300n);
          await log.close();
        },
      ),
      { numRuns: 15 },
    );
  },
);

both('stop() gives up on a send that never completes after graceMs: not committed, not an error', async (newSink) => {
  const { log } = await filledLog(20);
  const sink = newSink();
  let first = true;
  sink.send = async (records, opts) => {
    if (first) {
      first = false;
      sink.batches.push([...records]);
      return;
    }
    await new Promise((_, reject) =>
      opts?.signal?.addEventListener('abort', () => reject(Object.assign(new Error('aborted'), { name: 'AbortError' }))),
    );
  };
  const fw = await forward(log, { consumer: 'fw', sink, maxRecords: 5 });
  await until(() => fw.stats().forwardedRecords === 5 && fw.stats().inFlightBatches === 1);
  await fw.stop({ graceMs: 50 });
  assert.equal(fw.stats().state, 'stopped');
  assert.equal(fw.stats().committed, 5n);
  await log.close();
});

both(
  'a sink holding more of this log than the log has (truncateBack after forwarding) is ERR_WAL_FORWARD_DIVERGED at start',
  async (newSink) => {
    const { log } = await filledLog(50);
    const sink = newSink();
    sink.batches.push(Array.from({ length: 80 }, (_, i) => ({ logId: log.id, index: BigInt(i + 1), data: payload(i + 1) })));
    await assert.rejects(forward(log, { consumer: 'fw', sink }), (e) => isWalError(e, WalErrorCodes.FORWARD_DIVERGED));
    const c = await log.consumer('fw');
    assert.equal(c.committed, 0n);
    await c.close();
    await log.close();
  },
);
