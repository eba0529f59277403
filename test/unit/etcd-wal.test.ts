import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { WAL, type WalErrorWithResult } from '../../src/etcd/wal';
import { RecordType, encodeEntry } from '../../src/etcd/codec';
import { encodeFrames } from '../../src/etcd/frame';
import { walName } from '../../src/etcd/segments';
import { defaultBackend } from '../../src/io/backend';
import type { IoBackend, WalFile } from '../../src/io/types';
import { isWalError } from '../../src/errors';
import { tempDir } from '../support/tmp';

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');
// Spec §2 golden vector (= etcd's testdata/TestNew.wal)
const TEST_NEW_WAL = hex(`
  04000000 00000084 08041000 00000000  12000000 00000086 08011085 d4fda007
  1a08736f 6d656461 74610000 00000000  0e000000 00000082 08051080 db81c101
  1a040800 10000000`);

const zero = { index: 0n, term: 0n };
const ent = (index: bigint, size = 100, term = 1n) => ({ term, index, type: 0, data: new Uint8Array(size).fill(Number(index % 251n)) });

/** A backend that records the calls a WAL makes (the crash-safety layer will do the same). */
function recording(): { io: IoBackend; calls: string[] } {
  const calls: string[] = [];
  const base = defaultBackend;
  const wrapFile = (f: WalFile): WalFile =>
    new Proxy(f, {
      get(target, prop, receiver) {
        const v = Reflect.get(target, prop, receiver);
        if (typeof v !== 'function') return v;
        return (...args: unknown[]) => {
          if (prop === 'write') {
            const opts = args[2] as { datasync?: boolean } | undefined;
            calls.push(`write ${path.basename(f.path)}${opts?.datasync ? ' +datasync' : ''}`);
          } else if (prop !== 'size' && prop !== 'read') calls.push(`${String(prop)} ${path.basename(f.path)}`);
          return (v as (...a: unknown[]) => unknown).apply(target, args);
        };
      },
    });
  const io: IoBackend = {
    ...base,
    crc32c: base.crc32c,
    crc32cChain: base.crc32cChain,
    open: async (p, o) => wrapFile(await base.open(p, o)),
    openSync: (p, o) => wrapFile(base.openSync(p, o)),
    fsyncDir: async (p) => {
      calls.push(`fsyncDir ${path.basename(p)}`);
      await base.fsyncDir(p);
    },
    rename: async (a, b) => {
      calls.push(`rename ${path.basename(a)} ${path.basename(b)}`);
      await base.rename(a, b);
    },
  };
  return { io, calls };
}

test('create writes etcd golden bytes, preallocated, and fsyncs the tmp dir and the parent', async () => {
  const parent = tempDir();
  const dir = path.join(parent, 'wal');
  const { io, calls } = recording();
  const w = await WAL.create(dir, new TextEncoder().encode('somedata'), { io, segmentSizeBytes: 10_000 });
  await w.close();
  const bytes = fs.readFileSync(path.join(dir, walName(0n, 0n)));
  assert.equal(bytes.length, 10_000);
  assert.deepEqual(bytes.subarray(0, 72), TEST_NEW_WAL);
  assert.ok(bytes.subarray(72).every((b) => b === 0));
  assert.deepEqual(
    fs.readdirSync(dir).filter((n) => !/^nodewal-lock\.\d+\.tmp$/.test(n)),
    [walName(0n, 0n)],
    'the pipeline file is removed on close (the released lease stays)',
  );
  const i = calls.indexOf('fsyncDir wal.tmp');
  assert.ok(i >= 0 && calls.indexOf('rename wal.tmp wal') > i, calls.join('\n'));
  assert.ok(calls.includes(`fsyncDir ${path.basename(parent)}`));
  assert.ok(calls.includes(`write ${walName(0n, 0n)} +datasync`));
  await assert.rejects(WAL.create(dir, null), (e) => isWalError(e, 'ERR_WAL_EXISTS'));
});

/** Calls on the WAL's own segments (the pipeline prepares N.tmp in the background, at any time). */
const ours = (calls: string[]): string[] => calls.filter((c) => !c.includes('.tmp'));

test('save: one write per flush, fdatasync only when MustSync, none with unsafeNoFsync', async () => {
  const dir = path.join(tempDir(), 'wal');
  const { io, calls } = recording();
  const w = await WAL.create(dir, null, { io, segmentSizeBytes: 1 << 20 });
  calls.length = 0;
  await w.save({ term: 1n, vote: 1n, commit: 0n }, [ent(1n), ent(2n), ent(3n)]);
  assert.deepEqual(ours(calls), [`write ${walName(0n, 0n)} +datasync`]);
  calls.length = 0;
  await w.save({ term: 1n, vote: 1n, commit: 3n }, []); // commit-only: no sync, stays buffered
  assert.deepEqual(ours(calls), []);
  await w.sync();
  assert.deepEqual(ours(calls), [`write ${walName(0n, 0n)} +datasync`]);
  await w.close();

  const dir2 = path.join(tempDir(), 'wal');
  const rec2 = recording();
  const w2 = await WAL.create(dir2, null, { io: rec2.io, unsafeNoFsync: true, segmentSizeBytes: 1 << 20 });
  rec2.calls.length = 0;
  await w2.save({ term: 1n, vote: 1n, commit: 0n }, [ent(1n)]);
  assert.deepEqual(ours(rec2.calls), [`write ${walName(0n, 0n)}`]);
  await w2.close();
});

test('cut: truncate, sync, rename of the pipeline file, directory fsync; names carry enti+1', async () => {
  const dir = path.join(tempDir(), 'wal');
  const { io, calls } = recording();
  const w = await WAL.create(dir, null, { io, segmentSizeBytes: 512 });
  for (let i = 1n; i <= 12n; i++) await w.save({ term: 1n, vote: 1n, commit: i }, [ent(i, 200)]);
  await w.close();
  // drop the pipeline's background preparation of the next tmp file, which interleaves freely
  const cutCalls = calls.filter((c) => !/^(lock|allocate) [01]\.tmp$/.test(c));
  const names = fs.readdirSync(dir).filter((n) => n.endsWith('.wal'));
  assert.ok(names.length > 3);
  assert.ok(names.every((n, i) => n.startsWith(i.toString(16).padStart(16, '0'))));
  const k = cutCalls.findIndex((c) => /^rename [01]\.tmp /.test(c));
  assert.ok(k > 0 && cutCalls[k + 1] === 'fsyncDir wal', cutCalls.slice(k - 3, k + 3).join('\n'));
  assert.ok(cutCalls.slice(0, k).some((c) => c.startsWith('truncate')));
  const r = await WAL.openForRead(dir, zero);
  const res = await r.readAll();
  assert.deepEqual(
    res.entries.map((e) => e.index),
    Array.from({ length: 12 }, (_, i) => BigInt(i + 1)),
  );
  assert.deepEqual(res.state, { term: 1n, vote: 1n, commit: 12n });
});

test('releaseLockTo keeps the last segment below the index (etcd TestReleaseLockTo)', async () => {
  const dir = path.join(tempDir(), 'wal');
  const w = await WAL.create(dir, null, { segmentSizeBytes: 64 });
  // every save cuts: segments start at 0, 2, 3, ... (etcd's test uses 0..10)
  for (let i = 1n; i <= 10n; i++) await w.save({ term: 1n, vote: 1n, commit: i }, [ent(i, 10)]);
  const names = fs
    .readdirSync(dir)
    .filter((n) => n.endsWith('.wal'))
    .sort();
  const lockable = async (): Promise<boolean[]> => {
    const out: boolean[] = [];
    for (const n of names) {
      const f = await defaultBackend.open(path.join(dir, n), { read: true, write: true });
      try {
        await f.lock({ wait: false });
        out.push(true);
      } catch {
        out.push(false);
      } finally {
        await f.close();
      }
    }
    return out;
  };
  assert.ok((await lockable()).every((x) => !x));
  await w.releaseLockTo(5n);
  const idx = names.map((n) => BigInt(`0x${n.slice(17, 33)}`));
  const firstKept = idx.findIndex((v) => v >= 5n) - 1;
  assert.deepEqual(
    await lockable(),
    names.map((_, i) => i < firstKept),
  );
  await w.releaseLockTo(1000n);
  assert.deepEqual(
    await lockable(),
    names.map((_, i) => i < names.length - 1),
  );
  await w.close();
});

test('open: locked, readAll once, read-only refuses writes, write mode after snapshot-not-found', async () => {
  const dir = path.join(tempDir(), 'wal');
  const w = await WAL.create(dir, null, { segmentSizeBytes: 4096 });
  await w.save({ term: 1n, vote: 1n, commit: 2n }, [ent(1n), ent(2n)]);
  await assert.rejects(WAL.open(dir, zero), (e) => isWalError(e, 'ERR_WAL_LOCKED'));
  await w.close();

  const r = await WAL.openForRead(dir, zero);
  await r.readAll();
  await assert.rejects(r.readAll(), (e) => isWalError(e, 'ERR_WAL_DECODER_NOT_FOUND'));
  await assert.rejects(r.save({ term: 1n, vote: 1n, commit: 2n }, [ent(3n)]), (e) => isWalError(e, 'ERR_WAL_READ_ONLY'));
  await r.close();

  const o = await WAL.open(dir, { index: 1n, term: 1n });
  const err = (await o.readAll().catch((e: unknown) => e)) as WalErrorWithResult;
  assert.ok(isWalError(err, 'ERR_WAL_SNAPSHOT_NOT_FOUND'));
  assert.deepEqual(
    err.result.entries.map((e) => e.index),
    [2n],
  );
  await o.save({ term: 1n, vote: 1n, commit: 3n }, [ent(3n)]); // still appendable, like etcd
  await o.close();
  const again = await WAL.openForRead(dir, zero);
  assert.equal((await again.readAll()).entries.length, 3);
  await assert.rejects(again.readAll(), (e) => isWalError(e, 'ERR_WAL_DECODER_NOT_FOUND'));
});

test('garbage inside a CRC-valid payload is ERR_WAL_CORRUPT_PAYLOAD with file and offset (etcd panics)', async () => {
  const dir = path.join(tempDir(), 'wal');
  fs.mkdirSync(dir);
  const out = encodeFrames(
    defaultBackend,
    [
      { type: RecordType.Crc, data: null },
      { type: RecordType.Metadata, data: null },
      { type: RecordType.Entry, data: encodeEntry(ent(1n)) },
      { type: RecordType.Entry, data: Uint8Array.from([0x0a, 0xff]) }, // wrong wire type for field 1
    ],
    0,
  );
  fs.writeFileSync(path.join(dir, walName(0n, 0n)), out.bytes);
  const r = await WAL.openForRead(dir, zero);
  const err = await r.readAll().catch((e: unknown) => e);
  assert.ok(isWalError(err, 'ERR_WAL_CORRUPT_PAYLOAD'), String(err));
  assert.equal(err.file, path.join(dir, walName(0n, 0n)));
  assert.equal(err.offset, out.frameEnds[2]);
  await r.close();
});

test('concurrent calls are serialised; a closed WAL refuses work', async () => {
  const dir = path.join(tempDir(), 'wal');
  const w = await WAL.create(dir, null, { segmentSizeBytes: 2048 });
  await Promise.all(Array.from({ length: 20 }, (_, i) => w.save({ term: 1n, vote: 1n, commit: 0n }, [ent(BigInt(i + 1), 150)])));
  await w.close();
  await assert.rejects(w.save({ term: 1n, vote: 1n, commit: 0n }, [ent(21n)]), (e) => isWalError(e, 'ERR_WAL_CLOSED'));
  const r = await WAL.openForRead(dir, zero);
  assert.deepEqual(
    (await r.readAll()).entries.map((e) => Number(e.index)),
    Array.from({ length: 20 }, (_, i) => i + 1),
  );
  await assert.rejects(WAL.create(dir, null, { bogus: 1 } as never), (e) => isWalError(e, 'ERR_WAL_INVALID_OPTION'));
});
