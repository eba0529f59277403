// Regression (found by the Log power-loss test): a crash can leave a hole of zeros where a lost
// write was, followed by later writes that did reach the disk. Log.open ends the log at the
// hole; the bytes after it must be wiped before appending, or a later append can make them
// readable again (resurrected, never-acknowledged records) or make the next open fail with a
// CRC mismatch. 'zero-fill' wiped them; 'fallocate' (which keeps existing data) did not.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Log } from '../../src/log/log';
import type { Preallocation } from '../../src/log/options';
import { etcdFramesIn } from '../support/cli-helpers';
import { tempDir } from '../support/tmp';

for (const preallocation of ['zero-fill', 'fallocate'] as Preallocation[]) {
  test(`Log (${preallocation}): records after a hole of lost writes never come back`, async () => {
    const dir = path.join(tempDir(), 'log');
    const opts = { segmentSize: 64 * 1024, preallocation };
    const log = await Log.open(dir, opts);
    const rec = (tag: string): Uint8Array => new TextEncoder().encode(`${tag}-${'x'.repeat(40)}`);
    await log.append(rec('one'));
    await log.append(rec('two'));
    await log.append(rec('three'));
    await log.close();

    // Simulate the crash state: record 2's write was lost (zeros), record 3's reached the disk.
    const seg = path.join(
      dir,
      fs.readdirSync(dir).find((n) => n.endsWith('.wal'))!,
    );
    const bytes = fs.readFileSync(seg);
    const starts = etcdFramesIn(bytes).map((f) => f.offset);
    const second = starts.find((s) => bytes.subarray(s, starts[starts.indexOf(s) + 1] ?? s + 200).includes(Buffer.from('two-')))!;
    const third = starts[starts.indexOf(second) + 1]!;
    bytes.fill(0, second, third);
    fs.writeFileSync(seg, bytes);

    const reopened = await Log.open(dir, opts);
    assert.equal(reopened.lastIndex, 1n);
    // A different record 2: with the stale record 3 still behind it, the chain would break there.
    assert.equal(await reopened.append(rec('TWO')), 2n);
    await reopened.close();

    const again = await Log.open(dir, opts);
    const got: string[] = [];
    for await (const e of again.entries()) got.push(new TextDecoder().decode(e.data).split('-')[0]!);
    await again.close();
    assert.deepEqual(got, ['one', 'TWO']);
  });
}

for (const preallocation of ['zero-fill', 'fallocate'] as Preallocation[]) {
  test(`Log (${preallocation}): reopens after a crash mid-cut left the full segment as the tail`, async () => {
    // Found by the power-loss test: the cut truncates the full segment to its last record (larger
    // than segmentSize) and fsyncs it; a crash before the next segment is renamed into place
    // leaves that one as the tail, with nothing to preallocate after it. Native fallocate
    // rejected the zero length with an untyped RangeError and the log would not open.
    const dir = path.join(tempDir(), 'log');
    const opts = { segmentSize: 4096, preallocation };
    const log = await Log.open(dir, opts);
    const big = new Uint8Array(5000).fill(7);
    await log.append(big);
    await log.append(new Uint8Array([1, 2, 3]));
    await log.close();
    const segs = fs
      .readdirSync(dir)
      .filter((n) => n.endsWith('.wal'))
      .sort();
    assert.ok(segs.length >= 2, 'the big record must have caused a cut');
    // The crash state: the next segment never made it into the directory.
    for (const n of segs.slice(1)) fs.rmSync(path.join(dir, n));
    assert.ok(fs.statSync(path.join(dir, segs[0]!)).size > 4096);

    const reopened = await Log.open(dir, opts);
    assert.equal(reopened.lastIndex, 1n);
    assert.deepEqual(await reopened.get(1n), big);
    assert.equal(await reopened.append(new Uint8Array([9])), 2n);
    await reopened.close();
  });
}
