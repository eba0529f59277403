/**
 * Segment preparation: 'auto' zero-fills while segments fill slowly and fallocates once they fill
 * faster than AUTO_FALLOCATE_ABOVE (the rate of the segment just finished decides the next one).
 * Every prepared file reads as zeros, whatever the method.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { defaultBackend } from '../../src/io/backend';
import type { IoBackend, WalFile } from '../../src/io/types';
import { Log } from '../../src/log/log';
import { resolveLogOptions } from '../../src/log/options';
import { AUTO_FALLOCATE_ABOVE, SegmentPreparer } from '../../src/log/segment-preparer';
import { tempDir } from '../support/tmp';

/** The backend, counting the allocate and write calls made on prepared files. */
function countingIo(): { io: IoBackend; calls: { allocate: number; write: number } } {
  const calls = { allocate: 0, write: 0 };
  const io: IoBackend = Object.create(defaultBackend);
  io.open = async (p, opts) => {
    const file = await defaultBackend.open(p, opts);
    const wrapped: WalFile = Object.create(file);
    wrapped.allocate = (offset, length) => {
      calls.allocate++;
      return file.allocate(offset, length);
    };
    wrapped.write = (buffers, position, o) => {
      calls.write++;
      return file.write(buffers, position, o);
    };
    return wrapped;
  };
  return { io, calls };
}

test("'auto' is the default", () => {
  assert.equal(resolveLogOptions(undefined).preallocation, 'auto');
});

test("'auto' switches to fallocate after a segment filled fast, and back to zero-fill after a slow one", async () => {
  const dir = tempDir('nodewal-prealloc-');
  const size = 1 << 20;
  let clock = 0;
  const { io, calls } = countingIo();
  const preparer = new SegmentPreparer(io, dir, size, 'auto', () => clock);
  const zeros = (file: string) => {
    const bytes = fs.readFileSync(file);
    return bytes.length === size && bytes.every((b) => b === 0);
  };
  try {
    preparer.start();
    assert.equal(preparer.preparation, 'zero-fill');
    // The first segment's fill rate is unknown (the tail found at open may have been partly full).
    clock += 0.001;
    let file = await preparer.take();
    assert.ok(zeros(file));
    assert.equal(preparer.preparation, 'zero-fill');
    // 1 MiB in 1 ms: ~1 GiB/s, above the threshold.
    clock += 1;
    const before = { ...calls };
    file = await preparer.take();
    assert.equal(preparer.preparation, 'fallocate');
    clock += 1;
    file = await preparer.take(); // the one prepared after the switch
    assert.ok(zeros(file));
    assert.ok(calls.allocate > before.allocate, 'the file prepared after a fast segment was fallocated');
    // 1 MiB in 10 s: slow again.
    clock += 10_000;
    file = await preparer.take();
    assert.equal(preparer.preparation, 'zero-fill');
    const allocations = calls.allocate;
    clock += 10_000;
    file = await preparer.take(); // prepared by zero-fill; the next one too (slow again)
    assert.ok(zeros(file));
    assert.equal(calls.allocate, allocations, 'zero-fill writes zeros, it does not fallocate');
    // Right at the threshold it keeps zero-filling; just above it, it fallocates.
    clock += (size * 1000) / AUTO_FALLOCATE_ABOVE;
    await preparer.take();
    assert.equal(preparer.preparation, 'zero-fill');
    clock += (size * 1000) / AUTO_FALLOCATE_ABOVE / 1.01;
    await preparer.take();
    assert.equal(preparer.preparation, 'fallocate');
  } finally {
    await preparer.close();
  }
});

test('a Log reports how it prepares segments, and its segments read as zeros past the records', async () => {
  const dir = tempDir('nodewal-prealloc-log-');
  const log = await Log.open(path.join(dir, 'wal'), { segmentSize: 64 * 1024 });
  try {
    assert.equal(log.stats().preparation, 'zero-fill');
    for (let i = 0; i < 2000; i++) await log.append(new Uint8Array(100).fill(i & 0xff));
    assert.ok(log.stats().segments > 2);
    assert.ok(['zero-fill', 'fallocate'].includes(log.stats().preparation));
  } finally {
    await log.close();
  }
  let n = 0;
  const reopened = await Log.open(path.join(dir, 'wal'));
  for await (const e of reopened.entries()) {
    assert.equal(e.data[0], n & 0xff);
    n++;
  }
  await reopened.close();
  assert.equal(n, 2000);
});
