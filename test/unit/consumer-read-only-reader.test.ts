// The read-only consumer's batch reader (src/log/read-only-batch-reader.ts) against a live writer
// in the same process, over many generated schedules: small segments (cuts every few records),
// records of 0 B to 3 KB, batches bounded by records and bytes, seeks back and forth, closes and
// reopens of the consumer, read() and readEncoded() mixed. Every delivered record must be the one the writer wrote at that index,
// byte for byte, in order, and nothing past the durable index.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { Log } from '../../src/log/log';
import { BatchBody } from '../../src/forward/batch-body';
import { decodeBatch, encodeBatchBody } from '../../src/forward/batch';
import { tempDir } from '../support/tmp';

/** The bytes of record `i` of length `n`: they say which record they are. */
function data(i: number, n: number): Buffer {
  const b = Buffer.alloc(n, i & 0xff);
  if (n >= 4) b.writeUInt32LE(i, 0);
  return b;
}

const step = fc.oneof(
  fc.record({ op: fc.constant('append' as const), sizes: fc.array(fc.integer({ min: 0, max: 3000 }), { minLength: 1, maxLength: 12 }) }),
  fc.record({
    op: fc.constant('read' as const),
    maxRecords: fc.integer({ min: 1, max: 40 }),
    maxBytes: fc.integer({ min: 1, max: 9000 }),
    // readEncoded into a fresh BatchBody of maxBytes (encoded bytes), decoded back as a downstream reader would.
    encoded: fc.boolean(),
  }),
  fc.record({ op: fc.constant('commit' as const) }),
  fc.record({ op: fc.constant('seek' as const), back: fc.integer({ min: 0, max: 30 }) }),
  fc.record({ op: fc.constant('reopen' as const) }),
);

test('a read-only consumer delivers exactly what the writer wrote, across segment cuts, seeks and reopens', async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(step, { minLength: 5, maxLength: 60 }), async (steps) => {
      const dir = tempDir();
      const w = await Log.open(dir, { segmentSize: 8192 });
      await w.sync();
      const sizes: number[] = [0]; // sizes[i]: the length of record i
      const ro = await Log.open(dir, { readOnly: true, pollMs: 1 });
      let c = await ro.consumer('p');
      let delivered = 0;
      try {
        for (const s of steps) {
          if (s.op === 'append') {
            const first = sizes.length;
            await w.appendBatch(s.sizes.map((n, k) => data(first + k, n)));
            sizes.push(...s.sizes);
            await ro.refresh();
          } else if (s.op === 'read') {
            const durableBefore = Number(ro.durableIndex);
            let batch: { index: bigint; data: Uint8Array }[];
            if (s.encoded) {
              const body = new BatchBody(s.maxBytes);
              await c.readEncoded(body, { maxRecords: s.maxRecords });
              if (body.count > 1) assert.ok(body.size <= s.maxBytes, 'the body bound holds unless one record alone');
              const msg = body.count > 0 ? encodeBatchBody(ro.id, body) : null;
              batch = msg === null ? [] : decodeBatch(msg.headers, msg.body).records;
            } else batch = await c.read({ maxRecords: s.maxRecords, maxBytes: s.maxBytes });
            let bytes = 0;
            for (const e of batch) {
              const i = Number(e.index);
              assert.equal(i, delivered + 1, 'in order, no gap');
              assert.ok(i <= Number(ro.durableIndex), 'never past the durable index');
              assert.ok(Buffer.from(e.data).equals(data(i, sizes[i]!)), `record ${i} byte for byte`);
              delivered = i;
              bytes += e.data.length;
            }
            assert.ok(batch.length <= s.maxRecords);
            if (batch.length > 1 && !s.encoded) assert.ok(bytes <= s.maxBytes, 'maxBytes holds unless one record alone');
            if (batch.length === 0) assert.ok(delivered >= durableBefore, 'an empty batch only when caught up');
          } else if (s.op === 'commit') {
            if (delivered > Number(c.committed)) await c.commit(BigInt(delivered));
          } else if (s.op === 'seek') {
            const to = Math.max(Number(c.committed), delivered - s.back);
            c.seek(BigInt(to));
            delivered = to;
          } else {
            await c.close();
            c = await ro.consumer('p');
            delivered = Number(c.committed);
          }
        }
        // Then everything is delivered, once the writer's mark (published at most once per ms) says so.
        await w.sync();
        while (Number(ro.durableIndex) < sizes.length - 1) await new Promise((r) => setTimeout(r, 2));
        for (;;) {
          const batch = await c.read({ maxRecords: 1000 });
          if (batch.length === 0) break;
          for (const e of batch) {
            const i = Number(e.index);
            assert.equal(i, delivered + 1);
            assert.ok(Buffer.from(e.data).equals(data(i, sizes[i]!)));
            delivered = i;
          }
        }
        assert.equal(delivered, sizes.length - 1);
      } finally {
        await c.close();
        await ro.close();
        await w.close();
      }
    }),
    { numRuns: 40 },
  );
});
