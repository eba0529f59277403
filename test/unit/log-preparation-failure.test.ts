// A failed preparation of the next segment (ENOSPC while zero-filling N.tmp), or of the first
// one at creation, leaves no partial file behind holding the space: before, the partial 0.tmp
// stayed until the next Log.open. The log itself then fails at the cut that needed the file,
// with every acknowledged record intact.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { defaultBackend } from '../../src/io/backend';
import { Log } from '../../src/log/log';
import { FaultIo } from '../support/fault-io';
import { tempDir } from '../support/tmp';

const tmpFiles = (dir: string): string[] => fs.readdirSync(dir).filter((n) => /^[01]\.tmp$/.test(n));

for (const preallocation of ['zero-fill', 'fallocate'] as const) {
  test(`ENOSPC while preparing the next segment (${preallocation}): no partial N.tmp is left; acknowledged records survive`, async () => {
    const dir = tempDir();
    await (await Log.open(dir, { segmentSize: 64 * 1024 })).close(); // the first segment, without faults
    const io = new FaultIo(defaultBackend).fail({
      op: preallocation === 'zero-fill' ? 'write' : 'allocate',
      code: 'ENOSPC',
      path: /[01]\.tmp$/,
      partialBytes: 4096,
    });
    const log = await Log.open(dir, { segmentSize: 64 * 1024, preallocation, io });
    const acked: bigint[] = [];
    let failure: unknown = null;
    for (let i = 0; i < 200 && failure === null; i++) {
      try {
        acked.push(await log.append(Buffer.alloc(1000, i)));
      } catch (err) {
        failure = err;
      }
    }
    assert.ok(io.injected > 0, 'the fault was injected');
    assert.ok(failure !== null, 'the cut that needed the prepared file failed');
    assert.deepEqual(tmpFiles(dir), [], 'no partial prepared segment left on the full disk');
    await log.close();
    const again = await Log.open(dir, { segmentSize: 64 * 1024 });
    try {
      const seen: bigint[] = [];
      for await (const e of again.entries()) seen.push(e.index);
      assert.deepEqual(seen.slice(0, acked.length), acked);
    } finally {
      await again.close();
    }
  });
}

test('ENOSPC while creating the first segment: Log.open fails with the error naming 0.tmp, and leaves no 0.tmp', async () => {
  const dir = tempDir();
  const io = new FaultIo(defaultBackend).fail({ op: 'write', code: 'ENOSPC', path: /0\.tmp$/, partialBytes: 4096 });
  await assert.rejects(
    Log.open(dir, { segmentSize: 64 * 1024, preallocation: 'zero-fill', io }),
    (err: NodeJS.ErrnoException & { file?: string }) => {
      assert.match(String(err.message), /ENOSPC/);
      assert.match(String(err.file), /0\.tmp$/);
      return true;
    },
  );
  assert.deepEqual(fs.readdirSync(dir), []);
});
