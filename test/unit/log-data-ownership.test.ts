// Who owns the bytes (issue 12 finding 9, as documented in docs/api.md): entries() hands out views
// into read chunks that are never reused, so views kept across many chunks still hold their
// records; append() stores what its buffer holds when the batch is written, so a buffer changed
// after the promise settles does not change the stored record.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { Log } from '../../src/log/log';
import { tempDir } from '../support/tmp';

test('entries(): data views kept past many chunks and segments still hold their records', async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(fc.uint8Array({ minLength: 0, maxLength: 3000 }), { minLength: 1, maxLength: 80 }), async (records) => {
      const log = await Log.open(tempDir(), { segmentSize: 16 * 1024, readBufferBytes: 4096 });
      try {
        await log.appendBatch(records.map((r) => Buffer.from(r)));
        const kept: Uint8Array[] = [];
        for await (const e of log.entries()) kept.push(e.data); // no copy
        assert.deepEqual(
          kept.map((k) => Buffer.from(k)),
          records.map((r) => Buffer.from(r)),
        );
      } finally {
        await log.close();
      }
    }),
    { numRuns: 20 },
  );
});

test('append(buf): changing buf after the promise settled leaves the stored record as it was', async () => {
  const log = await Log.open(tempDir(), { segmentSize: 16 * 1024 });
  try {
    const buf = Buffer.from('original');
    const index = await log.append(buf);
    buf.fill('x');
    assert.equal(Buffer.from(await log.get(index)).toString(), 'original');
  } finally {
    await log.close();
  }
});
