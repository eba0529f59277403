// fast-check model test: random interleavings of append / read (read() or readEncoded(), under
// record and byte bounds) / seek / commit / truncateFront (guarded or forced) / truncateBack /
// reopen against a small in-memory model of the log and one consumer — positions, delivered
// records, typed errors.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { WalErrorCodes, isWalError } from '../../src/errors';
import type { Consumer } from '../../src/log/consumer';
import { ConsumerGapError, ConsumerTruncatedError } from '../../src/log/consumer-errors';
import { Log } from '../../src/log/log';
import { BatchBody, encodedRecordSize } from '../../src/forward/batch-body';
import { decodeBatch, encodeBatchBody } from '../../src/forward/batch';
import { tempDir } from '../support/tmp';

type Op =
  | { kind: 'append'; sizes: number[] }
  | { kind: 'read'; max: number; maxBytes: number; encoded: boolean; keepBody: boolean }
  | { kind: 'seek'; at: number }
  | { kind: 'commit'; at: number; off: number }
  | { kind: 'front'; at: number; off: number; force: boolean }
  | { kind: 'back'; at: number }
  | { kind: 'reopen' };

const frac = fc.double({ min: -0.2, max: 1.2, noNaN: true });
const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant('append' as const),
      sizes: fc.array(fc.integer({ min: 0, max: 300 }), { minLength: 1, maxLength: 8 }),
    }),
  },
  {
    weight: 5,
    arbitrary: fc.record({
      kind: fc.constant('read' as const),
      max: fc.integer({ min: 1, max: 10 }),
      // Small bounds make batches end on bytes (a record held over for the next read).
      maxBytes: fc.oneof(fc.constant(1 << 20), fc.integer({ min: 1, max: 700 })),
      // readEncoded into a BatchBody (fresh, or topping up the last one), or read().
      encoded: fc.boolean(),
      keepBody: fc.boolean(),
    }),
  },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('seek' as const), at: frac }) },
  // off: 0 commits inside [committed, delivered] (at picks where), -k below it, +k beyond it.
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant('commit' as const),
      at: fc.double({ min: 0, max: 1, noNaN: true }),
      off: fc.oneof({ weight: 4, arbitrary: fc.constant(0) }, fc.integer({ min: -3, max: 3 })),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({ kind: fc.constant('front' as const), at: frac, off: fc.integer({ min: 0, max: 4 }), force: fc.boolean() }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('back' as const), at: frac }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'reopen' as const }) },
);

const opts = { segmentSize: 4096 };

/** Expects `p` to fail with `code`; returns the error. */
async function fails(p: Promise<unknown>, code: string, what: string): Promise<unknown> {
  const err = await p.then(
    () => assert.fail(`${what}: expected ${code}`),
    (e: unknown) => e,
  );
  assert.ok(isWalError(err, code as never), `${what}: expected ${code}, got ${String(err)}`);
  return err;
}

test('consumer operations agree with an in-memory model', async () => {
  let counter = 0;
  const seen = {
    records: 0,
    encodedRecords: 0,
    toppedUp: 0,
    endedOnBytes: 0,
    gaps: 0,
    truncated: 0,
    refusedCommits: 0,
    refusedFronts: 0,
    reopens: 0,
  };
  await fc.assert(
    fc.asyncProperty(fc.array(opArb, { minLength: 10, maxLength: 40, size: 'large' }), async (ops) => {
      const dir = tempDir();
      let log = await Log.open(dir, opts);
      let c: Consumer = await log.consumer('m');
      // The model.
      const data = new Map<number, Buffer>();
      let first = 1;
      let last = 0;
      let committed = 0;
      let target = 0;
      let delivered = 0;
      let floor: number | null = null;
      let cutTo: number | null = null;
      let pendingCuts: number[] = [];
      let body: BatchBody | null = null;
      const pick = (f: number, lo: number, hi: number): number => Math.round(lo + f * (hi - lo));
      try {
        for (const op of ops) {
          const what = `${op.kind} ${JSON.stringify(op)}`;
          if (op.kind === 'append') {
            // Bytes that differ within a record and between records: a misplaced copy shows.
            const ds = op.sizes.map((n) => {
              const seed = counter++;
              return Buffer.from(Array.from({ length: n }, (_, k) => (seed * 31 + k * 7) & 0xff));
            });
            await log.appendBatch(ds);
            for (const d of ds) data.set(++last, d);
          } else if (op.kind === 'read') {
            // Topping up the body of the last encoded read: only while it ends where delivery is.
            const topUp: boolean = op.encoded && op.keepBody && body !== null && body.last === delivered;
            if (op.encoded && !topUp) body = new BatchBody(op.maxBytes);
            const before: number = topUp ? body!.count : 0;
            const read = (): Promise<unknown> =>
              op.encoded ? c.readEncoded(body!, { maxRecords: op.max }) : c.read({ maxRecords: op.max, maxBytes: op.maxBytes });
            if (cutTo !== null) {
              const e = await fails(read(), WalErrorCodes.CONSUMER_TRUNCATED, what);
              assert.ok(e instanceof ConsumerTruncatedError && e.lastIndex === BigInt(cutTo));
              seen.truncated++;
            } else if (delivered + 1 < first) {
              const e = await fails(read(), WalErrorCodes.CONSUMER_GAP, what);
              assert.ok(e instanceof ConsumerGapError);
              assert.deepEqual([e.from, e.to], [BigInt(delivered + 1), BigInt(first - 1)]);
              seen.gaps++;
              delivered = first - 1;
            } else {
              // The model's batch: after `delivered`, at most `max` records in all, under the byte
              // bound (data bytes for read(), encoded bytes of the whole body for readEncoded()).
              const want: number[] = [];
              let n = before;
              let bytes = op.encoded ? body!.size : 0;
              const bound = op.encoded ? body!.maxBytes : op.maxBytes;
              for (let i = delivered + 1; i <= last && n < op.max; i++, n++) {
                const len = data.get(i)!.length;
                const size = op.encoded ? encodedRecordSize(len) : len;
                if (n > 0 && bytes + size > bound) {
                  seen.endedOnBytes++;
                  break;
                }
                bytes += size;
                want.push(i);
              }
              let got: { index: bigint; data: Uint8Array }[];
              if (op.encoded) {
                const prefix: Buffer | null = before > 0 ? Buffer.from(body!.bytes) : null;
                const added = await c.readEncoded(body!, { maxRecords: op.max });
                assert.equal(added, want.length, what);
                assert.equal(body!.count, before + want.length, what);
                if (body!.count > 0) {
                  // What a downstream reader gets back out of the message.
                  const msg = encodeBatchBody(log.id, body!);
                  const decoded = decodeBatch(msg.headers, msg.body);
                  assert.equal(decoded.logId, log.id);
                  if (prefix !== null)
                    assert.deepEqual(Buffer.from(body!.bytes.subarray(0, prefix.length)), prefix, 'earlier records untouched');
                  got = decoded.records.slice(before);
                } else got = [];
                if (before > 0) seen.toppedUp++;
                seen.encodedRecords += want.length;
              } else got = await c.read({ maxRecords: op.max, maxBytes: op.maxBytes });
              assert.deepEqual(
                got.map((e) => Number(e.index)),
                want,
                what,
              );
              for (const e of got) assert.deepEqual(Buffer.from(e.data), data.get(Number(e.index)));
              if (want.length > 0) delivered = want[want.length - 1]!;
              seen.records += want.length;
            }
          } else if (op.kind === 'seek') {
            const at = Math.max(0, pick(op.at, first - 1, last));
            if (at > last)
              assert.throws(
                () => c.seek(BigInt(at)),
                (e: unknown) => isWalError(e, WalErrorCodes.OUT_OF_RANGE),
              );
            else if (cutTo !== null && at > cutTo)
              assert.throws(
                () => c.seek(BigInt(at)),
                (e: unknown) => isWalError(e, WalErrorCodes.OUT_OF_RANGE),
              );
            else {
              c.seek(BigInt(at));
              cutTo = null;
              if (at < target) floor = Math.min(floor ?? at, at);
              delivered = at;
            }
          } else if (op.kind === 'commit') {
            const at = Math.max(0, op.off < 0 ? committed + op.off : op.off > 0 ? delivered + op.off : pick(op.at, committed, delivered));
            const low = floor ?? target;
            if (at < low || at > delivered) {
              await fails(c.commit(BigInt(at)), WalErrorCodes.CONSUMER_COMMIT_RANGE, what);
              seen.refusedCommits++;
            } else if (cutTo !== null) await fails(c.commit(BigInt(at)), WalErrorCodes.CONSUMER_TRUNCATED, what);
            else {
              await c.commit(BigInt(at));
              committed = target = at;
              floor = null;
              pendingCuts = [];
            }
            assert.equal(c.committed, BigInt(committed), what);
          } else if (op.kind === 'front') {
            // off > 0: just past the committed position (uncommitted records), else anywhere.
            const at = Math.max(0, op.off > 0 ? Math.min(committed + 1 + op.off, last + 1) : pick(op.at, first, last + 1));
            if (at <= first) await log.truncateFront(BigInt(at), { force: op.force });
            else if (at > last + 1) await fails(log.truncateFront(BigInt(at), { force: op.force }), WalErrorCodes.OUT_OF_RANGE, what);
            else if (!op.force && committed + 1 < at) {
              await fails(log.truncateFront(BigInt(at)), WalErrorCodes.CONSUMER_UNCOMMITTED, what);
              seen.refusedFronts++;
            } else {
              await log.truncateFront(BigInt(at), { force: op.force });
              first = at;
            }
          } else if (op.kind === 'back') {
            const at = Math.max(0, pick(op.at, first - 1, last));
            if (at >= last) await log.truncateBack(BigInt(at));
            else if (at < first - 1) await fails(log.truncateBack(BigInt(at)), WalErrorCodes.OUT_OF_RANGE, what);
            else {
              await log.truncateBack(BigInt(at));
              pendingCuts.push(at);
              if (Math.max(delivered, committed) > at) cutTo = Math.min(cutTo ?? at, at);
              for (let i = at + 1; i <= last; i++) data.delete(i);
              last = at;
            }
          } else {
            seen.reopens++;
            await c.close();
            await log.close();
            log = await Log.open(dir, opts);
            c = await log.consumer('m');
            delivered = target = committed;
            floor = null;
            const low = pendingCuts.length === 0 ? null : Math.min(...pendingCuts);
            cutTo = low !== null && low < committed ? low : null;
          }
          assert.equal(log.firstIndex, BigInt(first), `firstIndex after ${what}`);
          assert.equal(log.lastIndex, BigInt(last), `lastIndex after ${what}`);
          const info = c.info();
          assert.equal(info.committed, BigInt(committed), `committed after ${what}`);
          assert.equal(info.delivered, BigInt(delivered), `delivered after ${what}`);
          assert.equal(info.lagRecords, BigInt(Math.max(0, last - committed)));
        }
      } finally {
        await c.close();
        await log.close();
      }
    }),
    { numRuns: Number(process.env['CONSUMER_MODEL_RUNS'] ?? 60), includeErrorInReport: true },
  );
  console.log(`# model: ${JSON.stringify(seen)}`);
  // Every kind of outcome was reached, or the agreement above says little.
  for (const [k, v] of Object.entries(seen)) assert.ok(v > 0, `no ${k} in the generated runs`);
});
