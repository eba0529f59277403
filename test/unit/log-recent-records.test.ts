// The window of recent records (src/log/recent-records.ts) that tail() and tailBatches() followers and consumers read
// just-durable records from. Property: random interleavings of append / sync / follower pulls /
// consumer read and commit / truncateBack / truncateFront, with the window off, tiny and at its
// default, against a plain model of the log. syncPolicy 'none', so written and durable differ
// until sync(): a reader must never get a record past durableIndex. Every reader gets the model's
// records in order; a follower past a truncateBack cut throws ERR_WAL_OUT_OF_RANGE, a consumer
// ConsumerTruncatedError; the data handed out stays unchanged after later appends, although the
// appenders overwrite their buffers once their appends resolved.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { Log, type LogEntry } from '../../src/log/log';
import { RecentRecords } from '../../src/log/recent-records';
import { tempDir } from '../support/tmp';

const text = new TextDecoder();
const enc = new TextEncoder();

type Op =
  | { t: 'append'; lens: number[] }
  | { t: 'sync' }
  | { t: 'pull'; n: number }
  | { t: 'read'; max: number }
  | { t: 'commit' }
  | { t: 'back'; at: number }
  | { t: 'front'; at: number };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({
      t: fc.constant('append' as const),
      lens: fc.array(fc.integer({ min: 0, max: 90 }), { minLength: 1, maxLength: 8 }),
    }),
  },
  { weight: 3, arbitrary: fc.constant({ t: 'sync' as const }) },
  { weight: 3, arbitrary: fc.record({ t: fc.constant('pull' as const), n: fc.integer({ min: 1, max: 6 }) }) },
  { weight: 3, arbitrary: fc.record({ t: fc.constant('read' as const), max: fc.integer({ min: 1, max: 10 }) }) },
  { weight: 1, arbitrary: fc.constant({ t: 'commit' as const }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constant('back' as const), at: fc.double({ min: 0, max: 1, noNaN: true }) }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('front' as const), at: fc.double({ min: 0, max: 1, noNaN: true }) }) },
);

/** Fails instead of hanging when a promise the model says must settle does not. */
function settled<T>(p: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const limit = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not settle`)), 5000);
  });
  return Promise.race([p, limit]).finally(() => clearTimeout(timer));
}

const turns = async (n: number): Promise<void> => {
  for (let i = 0; i < n; i++) await new Promise((r) => setImmediate(r));
};

/** A follower's step: one entry (tail()) or a batch of them (tailBatches()). */
type Step = IteratorResult<LogEntry | LogEntry[]>;

interface Pending {
  promise: Promise<Step>;
  result: { ok: Step } | { err: unknown } | null;
}

/** `batchMax`: the follower is tailBatches({ maxRecords: batchMax }); undefined: tail(). */
async function runOps(windowBytes: number | undefined, ops: Op[], batchMax?: number): Promise<void> {
  const dir = tempDir();
  const log = await Log.open(dir, {
    syncPolicy: 'none',
    segmentSize: 4096,
    ...(windowBytes === undefined ? {} : { recentRecordsBytes: windowBytes }),
  });
  // The model: record k (1-based) is records[k - 1].
  let records: string[] = [];
  let durable = 0;
  let first = 1;
  let serial = 0;
  // Everything a reader was handed, to check it is still intact at the end.
  const handed: { data: Uint8Array; want: string }[] = [];

  // Follower: the next index it should yield; a truncateBack below that makes it throw.
  const follow = (from: number): AsyncIterator<LogEntry | LogEntry[]> =>
    batchMax === undefined ? log.tail({ from: BigInt(from) }) : log.tailBatches({ from: BigInt(from), maxRecords: batchMax });
  let it = follow(1);
  let fNext = 1;
  let fMustThrow = false;
  let pending: Pending | null = null;

  // Consumer: delivered and committed positions; cutTo after a truncateBack below them.
  const c = await log.consumer('c', { start: 'oldest' });
  let delivered = 0;
  let committed = 0;
  let cutTo: number | null = null;

  const checkYield = (r: Step, when: string): void => {
    assert.equal(r.done, false, `follower ended (${when})`);
    const entries = Array.isArray(r.value) ? r.value : [r.value];
    if (batchMax !== undefined) {
      assert.ok(Array.isArray(r.value), `tailBatches yields arrays (${when})`);
      assert.ok(entries.length >= 1 && entries.length <= batchMax, `batch of ${entries.length}, maxRecords ${batchMax} (${when})`);
    }
    for (const e of entries) {
      const want = Math.max(fNext, first);
      assert.ok(want <= durable, `follower yielded ${e.index} past durable ${durable} (${when})`);
      assert.equal(e.index, BigInt(want), `follower index (${when})`);
      assert.equal(text.decode(e.data), records[want - 1], `follower data of ${want} (${when})`);
      handed.push({ data: e.data, want: records[want - 1]! });
      fNext = want + 1;
    }
  };

  const startPull = (): Pending => {
    const p: Pending = { promise: it.next(), result: null };
    p.promise.then(
      (ok) => (p.result = { ok }),
      (err: unknown) => (p.result = { err }),
    );
    return p;
  };

  const restartFollower = (): void => {
    it = follow(first);
    fNext = first;
    fMustThrow = false;
    pending = null;
  };

  /** After every op: a pending pull may have settled — was it allowed to? */
  const checkPending = async (when: string): Promise<void> => {
    await turns(3);
    if (pending === null) return;
    const mustSettle = fMustThrow || Math.max(fNext, first) <= durable;
    if (mustSettle)
      await settled(
        pending.promise.catch(() => undefined),
        `pending pull (${when})`,
      );
    const res = pending.result;
    if (res === null) return;
    pending = null;
    if (fMustThrow) {
      assert.ok('err' in res, `follower past a cut did not throw (${when})`);
      assert.equal((res.err as { code?: string }).code, 'ERR_WAL_OUT_OF_RANGE');
      restartFollower();
      return;
    }
    if ('err' in res) throw res.err;
    checkYield(res.ok, when);
  };

  for (const op of ops) {
    const written = records.length;
    switch (op.t) {
      case 'append': {
        const bufs = op.lens.map((n) => enc.encode(`${++serial}:${'x'.repeat(n)}`));
        const want = bufs.map((b) => text.decode(b));
        await log.appendBatch(bufs);
        for (const b of bufs) b.fill(0x3f); // the appender reuses its buffers once the append resolved
        records.push(...want);
        break;
      }
      case 'sync':
        await log.sync();
        durable = written;
        break;
      case 'pull':
        for (let k = 0; k < op.n; k++) {
          pending ??= startPull();
          await checkPending(`pull ${k}`);
          if (pending !== null) break; // waiting for a record not durable yet
        }
        break;
      case 'read': {
        if (cutTo !== null) {
          await assert.rejects(c.read({ maxRecords: op.max }), { code: 'ERR_WAL_CONSUMER_TRUNCATED' });
          c.seek(BigInt(cutTo));
          delivered = cutTo;
          cutTo = null;
          break;
        }
        if (delivered + 1 < first) {
          await assert.rejects(c.read({ maxRecords: op.max }), { code: 'ERR_WAL_CONSUMER_GAP' });
          delivered = first - 1;
          break;
        }
        const got = await c.read({ maxRecords: op.max, maxBytes: 1 << 20 });
        const to = Math.min(durable, delivered + op.max);
        assert.deepEqual(
          got.map((e) => Number(e.index)),
          Array.from({ length: Math.max(0, to - delivered) }, (_, k) => delivered + 1 + k),
          `consumer read after ${delivered}, durable ${durable}`,
        );
        for (const e of got) {
          assert.equal(text.decode(e.data), records[Number(e.index) - 1], `consumer data of ${e.index}`);
          handed.push({ data: e.data, want: records[Number(e.index) - 1]! });
        }
        delivered = Math.max(delivered, to);
        break;
      }
      case 'commit':
        if (cutTo === null && delivered > committed) {
          await c.commit(BigInt(delivered));
          committed = delivered;
        }
        break;
      case 'back': {
        // Into [first - 1, written - 1].
        if (written < first) break;
        const at = Math.min(first - 1 + Math.floor(op.at * (written - first + 1)), written - 1);
        await log.truncateBack(BigInt(at));
        records = records.slice(0, at);
        durable = at;
        if (fNext - 1 > at) fMustThrow = true;
        if (Math.max(delivered, committed) > at) cutTo = Math.min(cutTo ?? at, at);
        break;
      }
      case 'front': {
        // Into [first + 1, written + 1]; forced past the consumer's uncommitted records.
        if (written < first) break;
        const at = Math.min(first + 1 + Math.floor(op.at * (written - first + 1)), written + 1);
        await log.truncateFront(BigInt(at), { force: true });
        first = at;
        durable = written; // its snapshot record's fdatasync covers what was written before it
        break;
      }
    }
    assert.equal(log.durableIndex, BigInt(durable), `durableIndex after ${op.t}`);
    assert.equal(log.firstIndex, BigInt(first), `firstIndex after ${op.t}`);
    await checkPending(op.t);
    // A follower that is not waiting learns of a cut at its next pull.
    if (pending === null && fMustThrow) {
      await assert.rejects(settled(it.next(), 'pull past a cut'), { code: 'ERR_WAL_OUT_OF_RANGE' });
      restartFollower();
    }
  }
  await c.close();
  await log.close();
  durable = records.length; // close() syncs what was written
  if (pending !== null) {
    const r = await settled((pending as Pending).promise, 'pending pull at close');
    if (r.done !== true) checkYield(r, 'close');
  }
  for (const h of handed) assert.equal(text.decode(h.data), h.want, 'data handed out changed later');
}

/** fast-check's report names the ops but not what failed: print the assertion first. */
function showCause(err: unknown): never {
  console.error(String((err as Error)?.stack ?? err));
  throw err;
}

for (const [label, windowBytes] of [
  ['off', 0],
  ['tiny', 300],
  ['default', undefined],
] as const) {
  test(`followers and consumers against the model, window ${label}`, async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(opArb, { minLength: 1, maxLength: 60 }), (ops) => runOps(windowBytes, ops).catch(showCause)),
      { numRuns: 80 },
    );
  });
  test(`batch followers (tailBatches) and consumers against the model, window ${label}`, async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(opArb, { minLength: 1, maxLength: 60 }), fc.integer({ min: 1, max: 6 }), (ops, max) =>
        runOps(windowBytes, ops, max).catch(showCause),
      ),
      { numRuns: 80 },
    );
  });
}

test('RecentRecords: bounded by bytes, oldest evicted, truncations drop their ends', () => {
  const w = new RecentRecords(3 * (10 + 32));
  const d = (i: number): Uint8Array => enc.encode(`rec-${String(i).padStart(6, '0')}`.slice(0, 10));
  const datas = Array.from({ length: 5 }, (_, i) => d(i + 1));
  w.add(datas, 0, 5, 1);
  assert.equal(w.get(5), undefined, 'nothing kept while no reader runs');
  w.retain();
  w.add(datas, 0, 5, 1);
  assert.equal(w.firstIndex, 3, 'two oldest evicted');
  assert.equal(w.end, 5);
  assert.equal(w.get(2), undefined);
  assert.equal(text.decode(w.get(4)!), text.decode(d(4)));
  datas[3]!.fill(0); // the window holds a copy
  assert.equal(text.decode(w.get(4)!), text.decode(d(4)));
  w.dropAfter(3);
  assert.equal(w.end, 3);
  assert.equal(w.get(4), undefined);
  w.add([d(4)], 0, 1, 4);
  assert.equal(w.end, 4);
  w.dropBefore(4);
  assert.equal(w.firstIndex, 4);
  assert.equal(w.get(3), undefined);
  w.add([d(9)], 0, 1, 9); // not following the last one: starts afresh
  assert.equal(w.firstIndex, 9);
  assert.equal(w.get(4), undefined);
  w.clear();
  assert.equal(w.get(9), undefined);
  w.add([d(10)], 0, 1, 10);
  assert.equal(text.decode(w.get(10)!), text.decode(d(10)));
  w.release();
  w.add([d(11)], 0, 1, 11);
  assert.equal(w.get(10), undefined, 'the last reader gone: the next batch frees the window');
  assert.equal(w.get(11), undefined);
  const off = new RecentRecords(0);
  off.retain();
  off.add(datas, 0, 5, 1);
  assert.equal(off.get(1), undefined);
});
