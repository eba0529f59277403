import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { WAL } from '../../src/etcd/wal';
import { defaultBackend } from '../../src/io/backend';
import type { IoBackend, WalFile, WriteOptions } from '../../src/io/types';
import { DelegatingFile } from '../support/delegating-file';
import { tempDir } from '../support/tmp';

interface WriteCall {
  path: string;
  buffers: number;
  bytes: number;
  opts: WriteOptions | undefined;
}

/** Records every write and every thread release, forwarding both to the real file. */
class SpyFile extends DelegatingFile {
  constructor(
    inner: WalFile,
    private readonly writes: WriteCall[],
    private readonly released: string[],
  ) {
    super(inner);
  }
  override write(buffers: readonly Uint8Array[], position: number, opts?: WriteOptions): Promise<void> {
    const bytes = buffers.reduce((n, b) => n + b.length, 0);
    this.writes.push({ path: path.basename(this.path), buffers: buffers.length, bytes, opts });
    return super.write(buffers, position, opts);
  }
  releaseDedicatedThread(): void {
    this.released.push(path.basename(this.path));
    this.inner.releaseDedicatedThread?.();
  }
}

function spyIo(writes: WriteCall[], released: string[]): IoBackend {
  const io: IoBackend = Object.create(defaultBackend) as IoBackend;
  io.open = async (p, o) => new SpyFile(await defaultBackend.open(p, o), writes, released);
  return io;
}

const entries = (from: number, n: number, size: number) =>
  Array.from({ length: n }, (_, i) => ({ term: 1n, index: BigInt(from + i), type: 0, data: new Uint8Array(size).fill(i & 0xff) }));

test('a durable Save is one write of one buffer with fdatasync, on the tail’s own I/O thread', async () => {
  const writes: WriteCall[] = [];
  const w = await WAL.create(path.join(tempDir(), 'wal'), null, { io: spyIo(writes, []), segmentSizeBytes: 1 << 20 });
  writes.length = 0;
  for (let s = 0; s < 5; s++) await w.save({ term: 1n, vote: 1n, commit: BigInt(s * 10 + 1) }, entries(s * 10 + 1, 10, 1000));
  // entries + HardState in one contiguous buffer, the write and the fdatasync in one call
  assert.equal(writes.length, 5);
  for (const c of writes) {
    assert.equal(c.buffers, 1, 'one buffer: the state record shares the entries’ buffer');
    assert.ok(c.bytes > 10 * 1000);
    assert.deepEqual({ ...c.opts }, { datasync: true, dedicatedThread: true });
  }
  await w.close();
});

/** Threads of this process (Linux). */
const threads = (): number => fs.readdirSync('/proc/self/task').length;

test('after a cut the old segment, still open for its lock, gives its I/O thread back', async () => {
  const released: string[] = [];
  const dir = path.join(tempDir(), 'wal');
  const w = await WAL.create(dir, null, { io: spyIo([], released), segmentSizeBytes: 32 * 1024 });
  await w.save({ term: 1n, vote: 1n, commit: 1n }, entries(1, 1, 100));
  const before = threads();
  // etcd cuts once the flushed size passes 32 KB: every second Save of 40 KB here, 12 cuts
  for (let s = 0; s < 24; s++) await w.save({ term: 1n, vote: 1n, commit: BigInt(s + 2) }, entries(2 + s * 4, 4, 10_000));
  await new Promise((r) => setTimeout(r, 50)); // a stopped thread is joined off the JS path
  const names = fs.readdirSync(dir).filter((n) => n.endsWith('.wal'));
  assert.equal(names.length, 13, names.join(' '));
  assert.equal(released.length, 12, `every cut releases the previous tail’s thread: ${released.join(' ')}`);
  assert.ok(threads() <= before + 2, `threads grew from ${before} to ${threads()} over 12 cuts`);
  await w.close();
});
