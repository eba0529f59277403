// The order of writes, fsyncs, renames and directory fsyncs that docs/durability.md describes,
// checked on the recorded history (test/support/recording-io.ts) of each operation.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { WAL } from '../../src/etcd/wal';
import { Log } from '../../src/log/log';
import { LevelDBLogWriter } from '../../src/leveldb/writer';
import { defaultBackend } from '../../src/io/backend';
import { type HistoryOp, RecordingIo } from '../support/recording-io';
import { scratchDir } from '../support/crash-states';

/** The history as readable steps ("write seg0000-0000", "rename 0.tmp -> …"); the steps before a mark are filed under its label. */
function steps(rec: RecordingIo): Map<string, string[]> {
  const names = new Map<number, string>();
  const out = new Map<string, string[]>();
  let current: string[] = [];
  const short = (n: string): string => n.replace(/^0{12}(\w{4})-0{12}(\w{4})\.wal$/, 'seg$1-$2');
  for (const op of rec.history as HistoryOp[]) {
    switch (op.kind) {
      case 'mark':
        out.set(String(op.label), current);
        current = [];
        break;
      case 'link':
        names.set(op.ino, op.name);
        current.push(`${op.isDir ? 'mkdir' : 'create'} ${short(op.name)}`);
        break;
      case 'rename':
        names.set(op.ino, op.toName);
        current.push(`rename ${short(op.fromName)} -> ${short(op.toName)}`);
        break;
      case 'unlink':
        current.push(`unlink ${short(op.name)}`);
        break;
      case 'write':
      case 'truncate':
      case 'extend':
      case 'fsync':
        current.push(`${op.kind} ${short(names.get(op.ino) ?? '?')}`);
        break;
      case 'fsyncDir':
        current.push(`fsyncDir ${op.dir === 1 ? 'root' : (names.get(op.dir) ?? '?')}`);
        break;
    }
  }
  return out;
}

/** Asserts `want` occurs in `got` in this order (other steps may come between). */
function inOrder(got: string[], want: string[], what: string): void {
  let at = 0;
  for (const w of want) {
    const i = got.indexOf(w, at);
    assert.ok(i >= 0, `${what}: expected "${w}" after step ${at} in:\n  ${got.join('\n  ')}`);
    at = i + 1;
  }
}

function recorder(): { rec: RecordingIo; root: string } {
  const root = path.join(scratchDir('nodewal-order-'), 'r');
  fs.mkdirSync(root);
  return { rec: new RecordingIo(defaultBackend, root), root };
}

const entry = (i: number, size = 10) => ({ term: 1n, index: BigInt(i), type: 0, data: new Uint8Array(size).fill(i) });

test('etcd WAL: create, save, commit-only save and cut issue their fsyncs in the documented order', async () => {
  const { rec, root } = recorder();
  const w = await WAL.create(path.join(root, 'wal'), null, { io: rec, segmentSizeBytes: 4096 });
  rec.mark('created');
  await w.save({ term: 1n, vote: 1n, commit: 0n }, [entry(1)]);
  rec.mark('saved');
  await w.save({ term: 1n, vote: 1n, commit: 1n }, []);
  rec.mark('commit-only');
  await w.save({ term: 1n, vote: 1n, commit: 1n }, [entry(2, 5000)]);
  rec.mark('big');
  // etcd cuts in the Save whose *flushed* start offset reached the segment size: this one.
  await w.save({ term: 1n, vote: 1n, commit: 2n }, [entry(3)]);
  rec.mark('cut');
  await w.close();
  const s = steps(rec);
  inOrder(
    s.get('created')!,
    [
      'mkdir wal.tmp',
      'create seg0000-0000',
      'write seg0000-0000',
      'fsync seg0000-0000',
      'fsyncDir wal.tmp',
      'rename wal.tmp -> wal',
      'fsyncDir root',
    ],
    'create',
  );
  // (the pipeline preallocates 0.tmp in the background meanwhile: look at the tail only)
  const tail = (k: string): string[] => s.get(k)!.filter((x) => x.endsWith('seg0000-0000'));
  assert.deepEqual(tail('saved'), ['write seg0000-0000', 'fsync seg0000-0000'], 'save with entries: one write, one fdatasync');
  assert.deepEqual(tail('commit-only'), [], 'a commit-only HardState stays buffered (etcd MustSync is false)');
  inOrder(
    s.get('cut')!,
    [
      'truncate seg0000-0000',
      'write seg0000-0000',
      'fsync seg0000-0000',
      'write 0.tmp',
      'fsync 0.tmp',
      'rename 0.tmp -> seg0001-0004',
      'fsyncDir wal',
    ],
    'cut',
  );
});

test('Log: open, group-committed appends and a cut issue their fsyncs in the documented order', async () => {
  const { rec, root } = recorder();
  const log = await Log.open(path.join(root, 'log'), { io: rec, segmentSize: 4096 });
  rec.mark('opened');
  await Promise.all([log.append('a'), log.append('b'), log.append('c')]);
  rec.mark('appended');
  await log.append(new Uint8Array(5000));
  await log.append('after-cut');
  rec.mark('cut');
  await log.close();
  const s = steps(rec);
  inOrder(
    s.get('opened')!,
    ['mkdir log', 'create 0.tmp', 'write 0.tmp', 'fsync 0.tmp', 'rename 0.tmp -> seg0000-0000', 'fsyncDir log', 'fsyncDir root'],
    'open',
  );
  const appended = s.get('appended')!.filter((x) => x.includes('seg0000-0000'));
  // Three concurrent appends: written and fdatasync'd together, then resolved.
  assert.ok(appended.length >= 2 && appended[appended.length - 1] === 'fsync seg0000-0000', `appends: ${appended.join(', ')}`);
  assert.ok(
    appended.filter((x) => x === 'fsync seg0000-0000').length <= 2,
    'group commit: at most two fdatasyncs for three concurrent appends',
  );
  inOrder(
    s.get('cut')!,
    [
      'truncate seg0000-0000',
      'fsync seg0000-0000',
      'fsync 0.tmp',
      'rename 0.tmp -> seg0001-0005',
      'fsyncDir log',
      'write seg0001-0005',
      'fsync seg0001-0005',
    ],
    'cut',
  );
});

test('LevelDB writer: creating a log fsyncs its directory; a synced record is written then fdatasynced', async () => {
  const { rec, root } = recorder();
  await rec.mkdir(path.join(root, 'db'));
  const w = await LevelDBLogWriter.open(path.join(root, 'db', '000001.log'), { io: rec });
  rec.mark('opened');
  await w.addRecord(new Uint8Array([1, 2, 3]), { sync: true });
  rec.mark('synced');
  await w.addRecord(new Uint8Array([4]));
  rec.mark('unsynced');
  await w.close();
  const s = steps(rec);
  inOrder(s.get('opened')!, ['create 000001.log', 'fsyncDir db'], 'open');
  assert.deepEqual(s.get('synced'), ['write 000001.log', 'fsync 000001.log']);
  assert.deepEqual(s.get('unsynced'), ['write 000001.log']);
});
