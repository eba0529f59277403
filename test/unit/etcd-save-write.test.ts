import { test } from 'node:test';
import assert from 'node:assert/strict';
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

/** Records every write, forwarding it to the real file. */
class SpyFile extends DelegatingFile {
  constructor(
    inner: WalFile,
    private readonly writes: WriteCall[],
  ) {
    super(inner);
  }
  override write(buffers: readonly Uint8Array[], position: number, opts?: WriteOptions): Promise<void> {
    const bytes = buffers.reduce((n, b) => n + b.length, 0);
    this.writes.push({ path: path.basename(this.path), buffers: buffers.length, bytes, opts });
    return super.write(buffers, position, opts);
  }
}

function spyIo(writes: WriteCall[]): IoBackend {
  const io: IoBackend = Object.create(defaultBackend) as IoBackend;
  io.open = async (p, o) => new SpyFile(await defaultBackend.open(p, o), writes);
  return io;
}

const entries = (from: number, n: number, size: number) =>
  Array.from({ length: n }, (_, i) => ({ term: 1n, index: BigInt(from + i), type: 0, data: new Uint8Array(size).fill(i & 0xff) }));

test('a durable Save is one write of one buffer with fdatasync in the same call', async () => {
  const writes: WriteCall[] = [];
  const w = await WAL.create(path.join(tempDir(), 'wal'), null, { io: spyIo(writes), segmentSizeBytes: 1 << 20 });
  writes.length = 0;
  for (let s = 0; s < 5; s++) await w.save({ term: 1n, vote: 1n, commit: BigInt(s * 10 + 1) }, entries(s * 10 + 1, 10, 1000));
  // entries + HardState in one contiguous buffer, the write and the fdatasync in one call
  assert.equal(writes.length, 5);
  for (const c of writes) {
    assert.equal(c.buffers, 1, 'one buffer: the state record shares the entries’ buffer');
    assert.ok(c.bytes > 10 * 1000);
    assert.deepEqual({ ...c.opts }, { datasync: true });
  }
  await w.close();
});
