// Resource faults injected through the backend interface (test/support/fault-io.ts): disk full
// (ENOSPC, also after a short write; EDQUOT on preallocation), EIO on fdatasync (reported before
// or after the data reached the page cache), EIO on a directory fsync during a cut, EMFILE when
// a segment is opened during a cut, permission denied / read-only filesystem at open. For the
// etcd WAL, the Log and the LevelDB writer, in the backend under test:
//   - the failing call rejects with a WalError that names the cause;
//   - after a failed write or fsync every later write AND sync is refused with ERR_WAL_FAILED,
//     even once the disk is healthy again (PostgreSQL's "fsyncgate": a retried fsync can report
//     success for data the kernel already dropped);
//   - nothing acknowledged before the fault is lost, and the directory reopens (with the real
//     backend) and accepts new records.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { WAL } from '../../src/etcd/wal';
import { isWalError, WalError, WalErrorCodes } from '../../src/errors';
import { defaultBackend } from '../../src/io/backend';
import type { IoBackend } from '../../src/io/types';
import { Log } from '../../src/log/log';
import { LevelDBLogWriter } from '../../src/leveldb/writer';
import { readLevelDBLog } from '../../src/leveldb/reader';
import { FaultIo, type FaultRule } from '../support/fault-io';
import { tempDir } from '../support/tmp';
import { crashPayload, indexOfPayload, isPayload } from '../crash/payload';

const SEED = 77;
const SNAP0 = { index: 0n, term: 0n };

/** One format behind a common shape. */
interface Adapter {
  name: string;
  open(dir: string, io: IoBackend): Promise<Handle>;
  /** Records present after recovery with the real backend, checked intact; returns their indexes. */
  recover(dir: string): Promise<number[]>;
}
interface Handle {
  append(i: number): Promise<void>;
  sync(): Promise<void>;
  close(): Promise<void>;
}

const etcd: Adapter = {
  name: 'etcd WAL',
  async open(dir, io) {
    const opts = { io, segmentSizeBytes: 4096 };
    let w: WAL;
    if (await WAL.exist(dir)) {
      w = await WAL.open(dir, SNAP0, opts);
      await w.readAll();
    } else {
      w = await WAL.create(dir, null, opts);
    }
    return {
      append: (i) =>
        w.save({ term: 1n, vote: 1n, commit: BigInt(i - 1) }, [{ term: 1n, index: BigInt(i), type: 0, data: crashPayload(i, SEED) }]),
      sync: () => w.sync(),
      close: () => w.close(),
    };
  },
  async recover(dir) {
    const opts = { segmentSizeBytes: 4096 };
    let w = await WAL.open(dir, SNAP0, opts);
    let entries;
    try {
      entries = (await w.readAll()).entries;
    } catch (err) {
      await w.close();
      if (!isWalError(err, WalErrorCodes.UNEXPECTED_EOF)) throw err;
      assert.equal(await WAL.repair(dir, opts), true);
      w = await WAL.open(dir, SNAP0, opts);
      entries = (await w.readAll()).entries;
    }
    await w.close();
    return entries.map((e) => {
      assert.ok(e.data !== null && isPayload(e.data, Number(e.index), SEED), `entry ${e.index} garbled`);
      return Number(e.index);
    });
  },
};

const log: Adapter = {
  name: 'Log',
  async open(dir, io) {
    const l = await Log.open(dir, { io, segmentSize: 4096 });
    return {
      append: async (i) => {
        assert.equal(await l.append(crashPayload(i, SEED)), BigInt(i));
      },
      sync: async () => {
        await l.sync();
      },
      close: () => l.close(),
    };
  },
  async recover(dir) {
    const l = await Log.open(dir, { segmentSize: 4096, mustExist: true });
    const out: number[] = [];
    try {
      for await (const e of l.entries()) {
        assert.ok(isPayload(e.data, Number(e.index), SEED), `record ${e.index} garbled`);
        out.push(Number(e.index));
      }
    } finally {
      await l.close();
    }
    return out;
  },
};

const leveldb: Adapter = {
  name: 'LevelDB writer',
  async open(dir, io) {
    fs.mkdirSync(dir, { recursive: true });
    const w = await LevelDBLogWriter.open(path.join(dir, '000003.log'), { io, repairTail: true });
    return {
      // async: addRecord/sync throw synchronously once the writer failed; normalise to a rejection
      append: async (i) => w.addRecord(crashPayload(i, SEED), { sync: true }),
      sync: async () => w.sync(),
      close: () => w.close(),
    };
  },
  async recover(dir) {
    const out: number[] = [];
    for await (const { data } of readLevelDBLog(path.join(dir, '000003.log'), { onCorruption: () => undefined })) {
      const i = indexOfPayload(data);
      assert.ok(isPayload(data, i, SEED), `record ${i} garbled`);
      out.push(i);
    }
    return out;
  },
};

/** A WalError whose message or cause chain names `code`. */
function assertNamed(err: unknown, code: string, what: string): asserts err is WalError {
  assert.ok(err instanceof WalError, `${what}: expected a WalError, got ${(err as Error)?.stack ?? String(err)}`);
  let text = '';
  for (let e: unknown = err; e !== undefined && e !== null; e = (e as { cause?: unknown }).cause) {
    text += ` ${(e as Error).message ?? ''} ${(e as NodeJS.ErrnoException).code ?? ''}`;
    if (text.length > 10_000) break;
  }
  assert.ok(text.includes(code), `${what}: the error does not name ${code}: ${text}`);
}

interface Scenario {
  name: string;
  rule: FaultRule;
  /** Formats it applies to. */
  formats: Adapter[];
}

const SCENARIOS: Scenario[] = [
  { name: 'ENOSPC on write', rule: { op: 'write', code: 'ENOSPC', times: 1 }, formats: [etcd, log, leveldb] },
  { name: 'ENOSPC after a short write', rule: { op: 'write', code: 'ENOSPC', times: 1, partialBytes: 100 }, formats: [etcd, log, leveldb] },
  { name: 'EIO on fdatasync', rule: { op: 'datasync', code: 'EIO', times: 1 }, formats: [etcd, log, leveldb] },
  {
    name: 'EIO on fdatasync after the data reached the page cache',
    rule: { op: 'datasync', code: 'EIO', times: 1, after: true },
    formats: [etcd, log, leveldb],
  },
  { name: 'EDQUOT preallocating the next segment', rule: { op: 'allocate', code: 'EDQUOT' }, formats: [etcd] },
  { name: 'EMFILE opening a segment during a cut', rule: { op: 'open', code: 'EMFILE' }, formats: [etcd, log] },
  { name: 'EIO on the directory fsync of a cut', rule: { op: 'fsyncDir', code: 'EIO' }, formats: [etcd, log] },
  { name: 'EIO on the rename of a cut', rule: { op: 'rename', code: 'EIO' }, formats: [etcd, log] },
];

for (const sc of SCENARIOS) {
  for (const fmt of sc.formats) {
    test(
      `${fmt.name}: ${sc.name} -> clear error, later writes refused, nothing acknowledged lost, reusable`,
      { timeout: 60_000 },
      async () => {
        const dir = path.join(tempDir(), 'wal');
        const io = new FaultIo(defaultBackend);
        const h = await fmt.open(dir, io);
        let next = 1;
        for (; next <= 5; next++) await h.append(next);
        const acked = next - 1;
        io.fail(sc.rule);
        // Append until the fault fires (a cut or preallocation may take a few records).
        let failure: unknown = null;
        let ackedAfter = acked;
        for (let k = 0; k < 400 && failure === null; k++, next++) {
          try {
            await h.append(next);
            ackedAfter = next;
          } catch (err) {
            failure = err;
          }
        }
        assert.ok(io.injected > 0, 'the fault never fired');
        assert.ok(failure !== null, 'an append succeeded although its write or sync failed');
        assertNamed(failure, sc.rule.code, 'the failing append');
        io.clear();
        // The disk is healthy again; the writer must still refuse (its state is unknown).
        await assert.rejects(h.append(next + 1), (err: unknown) => isWalError(err, WalErrorCodes.FAILED), 'append after a failure');
        await assert.rejects(
          h.sync(),
          (err: unknown) => isWalError(err, WalErrorCodes.FAILED),
          'sync after a failure must not report success',
        );
        await h.close().catch((err: unknown) => assert.ok(err instanceof WalError, `close threw a non-WalError: ${String(err)}`));

        const present = await fmt.recover(dir);
        for (let i = 1; i <= ackedAfter; i++) assert.equal(present[i - 1], i, `acknowledged record ${i} lost`);
        present.forEach((v, k) => assert.equal(v, k + 1, 'records must be 1..n'));
        // Reusable: reopen with the real backend and append.
        const again = await fmt.open(dir, defaultBackend);
        const n = present.length + 1;
        await again.append(n);
        await again.close();
        const after = await fmt.recover(dir);
        assert.equal(after.length, n);
      },
    );
  }
}

for (const fmt of [etcd, log, leveldb]) {
  for (const [op, code] of [
    ['open', 'EACCES'],
    ['open', 'EMFILE'],
    ['mkdir', 'EROFS'],
  ] as const) {
    test(`${fmt.name}: ${code} on ${op} while opening -> a WalError naming it, nothing created half-way that breaks a retry`, async () => {
      const dir = path.join(tempDir(), 'wal');
      const io = new FaultIo(defaultBackend).fail({ op, code });
      let err: unknown = null;
      try {
        const h = await fmt.open(dir, io);
        await h.close();
      } catch (e) {
        err = e;
      }
      if (io.injected === 0) {
        // This format does not use the operation on open (e.g. no mkdir): nothing to check.
        assert.equal(err, null);
        return;
      }
      assertNamed(err, code, `open with ${code} on ${op}`);
      // A retry on a healthy disk works.
      const h = await fmt.open(dir, defaultBackend);
      await h.append(1);
      await h.close();
      assert.deepEqual(await fmt.recover(dir), [1]);
    });
  }
}

// Found by `npm run test:enospc` (fallback backend: its lock file cannot be created on a full
// disk): Log.cut never closed the new segment when locking it failed.
for (const fmt of [etcd, log]) {
  test(`${fmt.name}: a failure while taking the new segment's lock in a cut leaks no file descriptor`, async () => {
    const dir = path.join(tempDir(), 'wal');
    const io = new FaultIo(defaultBackend);
    const h = await fmt.open(dir, io);
    io.fail({ op: 'lock', code: 'ENOSPC', path: /\d{16}-\d{16}\.wal$/ });
    let failed = false;
    for (let i = 1; i < 400 && !failed; i++) {
      try {
        await h.append(i);
      } catch (err) {
        assertNamed(err, 'ENOSPC', 'append');
        failed = true;
      }
    }
    assert.ok(failed, 'no cut happened');
    await h.close().catch(() => undefined);
    assert.deepEqual([...io.openFiles.values()], [], 'files left open after close');
  });
}
