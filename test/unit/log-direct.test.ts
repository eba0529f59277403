import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import fc from 'fast-check';
import { Log } from '../../src/log/log';
import { expectedBackend, tempDir } from '../support/tmp';

const TMPFS_MAGIC = 0x01021994;

function segmentBytes(dir: string): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  for (const n of fs
    .readdirSync(dir)
    .filter((n) => n.endsWith('.wal'))
    .sort())
    out.set(n, fs.readFileSync(path.join(dir, n)));
  return out;
}

test('direct: true writes byte-identical files to buffered mode (or reports why O_DIRECT is off)', async () => {
  const probe = tempDir();
  const onTmpfs = fs.statfsSync(probe).type === TMPFS_MAGIC;
  await fc.assert(
    fc.asyncProperty(
      fc.array(fc.array(fc.integer({ min: 0, max: 1500 }), { minLength: 1, maxLength: 20 }), { minLength: 1, maxLength: 12 }),
      fc.integer({ min: 0, max: 3 }),
      async (batches, truncateAt) => {
        const dirs = [tempDir(), tempDir()];
        for (const [k, direct] of [false, true].entries()) {
          const log = await Log.open(dirs[k]!, { segmentSize: 8192, direct });
          try {
            if (direct) {
              const s = log.stats();
              if (expectedBackend === 'native' && !onTmpfs) assert.equal(s.direct, true, 'O_DIRECT active on this filesystem');
              else assert.equal(s.direct, false);
              assert.equal(s.directUnavailable === null, s.direct);
            }
            let n = 0;
            for (const [b, sizes] of batches.entries()) {
              // One appendBatch per batch: segments are cut after the batch that crosses segmentSize, so
              // batches formed by timing (concurrent appends) would move the cut between the two runs.
              await log.appendBatch(sizes.map((size) => Buffer.alloc(size, (n++ % 250) + 1)));
              if (b === truncateAt && log.lastIndex > 2n) await log.truncateBack(log.lastIndex - 2n);
            }
          } finally {
            await log.close();
          }
        }
        const [a, b] = dirs.map(segmentBytes);
        assert.deepEqual([...a!.keys()], [...b!.keys()]);
        for (const [name, bytes] of a!) assert.ok(bytes.equals(b!.get(name)!), `${name} differs`);
        // Reopening a direct log continues it correctly (partial last block reloaded).
        const again = await Log.open(dirs[1]!, { segmentSize: 8192, direct: true });
        try {
          const last = await again.append('tail');
          assert.deepEqual(Buffer.from(await again.get(last)).toString(), 'tail');
        } finally {
          await again.close();
        }
      },
    ),
    { numRuns: 12 },
  );
});
