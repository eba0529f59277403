// close() stops a zero-fill under way instead of waiting for the whole segment and then deleting
// it: a fresh Log's close used to cost ~60 ms here (the 64 MB fill of 0.tmp, then its unlink).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { defaultBackend } from '../../src/io/backend';
import { SegmentPreparer } from '../../src/etcd/segment-preparer';
import { Log } from '../../src/log/log';
import { FaultIo } from '../support/fault-io';
import { tempDir } from '../support/tmp';

const SIZE = 64 * 1024 * 1024;
const CHUNKS = SIZE / (1024 * 1024); // the zero-fill's chunk is 1 MiB
const tmpFiles = (dir: string): string[] => fs.readdirSync(dir).filter((n) => /^[01]\.tmp$/.test(n));

test('close() during a zero-fill stops after the chunk in flight and removes the file', async () => {
  const dir = tempDir();
  const io = new FaultIo(defaultBackend);
  const preparer = new SegmentPreparer(io, dir, SIZE, 'zero-fill');
  preparer.start();
  while ((io.calls.get('write') ?? 0) < 2) await new Promise((r) => setImmediate(r));
  await preparer.close();
  const writes = io.calls.get('write') ?? 0;
  assert.ok(writes < CHUNKS / 2, `stopped early: ${writes} of ${CHUNKS} chunk writes`);
  assert.deepEqual(tmpFiles(dir), [], 'the cancelled file is removed');
  const after = writes;
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(io.calls.get('write') ?? 0, after, 'nothing is written after close() returned');
});

test('a prepared file that finished before close() is still removed', async () => {
  const dir = tempDir();
  const preparer = new SegmentPreparer(defaultBackend, dir, 256 * 1024, 'zero-fill');
  preparer.start();
  await new Promise((r) => setTimeout(r, 200));
  assert.deepEqual(tmpFiles(dir), ['0.tmp'], 'prepared');
  await preparer.close();
  assert.deepEqual(tmpFiles(dir), []);
});

test('a Log closed right after open does not fill its next segment to the end', async () => {
  const dir = tempDir();
  const io = new FaultIo(defaultBackend);
  const log = await Log.open(dir, { io, preallocation: 'zero-fill' });
  const atOpen = io.calls.get('write') ?? 0;
  await log.append(new Uint8Array(100));
  await log.close();
  const during = (io.calls.get('write') ?? 0) - atOpen;
  assert.ok(during < CHUNKS / 2, `close did not wait for the next segment's ${CHUNKS} chunks: ${during} writes`);
  assert.deepEqual(tmpFiles(dir), []);
  const again = await Log.open(dir);
  try {
    const seen: bigint[] = [];
    for await (const e of again.entries()) seen.push(e.index);
    assert.deepEqual(seen, [1n]);
  } finally {
    await again.close();
  }
});
