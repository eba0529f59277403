import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { tempDir } from '../support/tmp';
import { crc32c } from '../../src/crc32c';
import {
  copy,
  etcdFrames,
  etcdSegments,
  flipByte,
  freshEtcdWal,
  freshLevelDBLog,
  hashTree,
  jsonLines,
  levelDBFragments,
  makeLevelDBLog,
  wal,
} from '../support/cli-helpers';

/** The data field of a marshalled walpb.Record laid out as 08 type 10 crc 1a len data. */
function walpbData(rec: Uint8Array): Uint8Array {
  let p = 0;
  const varint = (): number => {
    let v = 0;
    for (let shift = 0; ; shift += 7) {
      const b = rec[p++]!;
      v += (b & 0x7f) * 2 ** shift;
      if (b < 0x80) return v;
    }
  };
  assert.equal(rec[p++], 0x08);
  varint();
  assert.equal(rec[p++], 0x10);
  varint();
  assert.equal(rec[p++], 0x1a);
  const len = varint();
  return rec.subarray(p, p + len);
}

test('verify: healthy WAL and LevelDB log exit 0 with a summary', async () => {
  const { root, dir } = await freshEtcdWal(60);
  const r = wal(['verify', dir]);
  assert.equal(r.status, 0, r.stdout + r.stderr);
  assert.match(r.stdout, new RegExp(`${etcdSegments(dir).length} segments.*60 entries, entries 1\\.\\.60`));
  assert.match(r.stdout, /OK: no problems found/);
  const j = jsonLines(wal(['verify', '--json', dir]).stdout);
  assert.equal(j.length, 1);
  assert.equal(j[0]!['healthy'], true);
  assert.equal(j[0]!['lastIndex'], 60);
  const log = path.join(root, '000001.log');
  await makeLevelDBLog(log, 10);
  const l = wal(['verify', log]);
  assert.equal(l.status, 0, l.stdout + l.stderr);
  assert.match(l.stdout, /10 records, 20 operations/);
});

test('verify: a flipped byte in a middle segment — exit 1, exact file and frame offset, nothing modified', async () => {
  const { root, dir } = await freshEtcdWal(60);
  const bad = copy(dir, path.join(root, 'bad'));
  const segs = etcdSegments(bad);
  assert.ok(segs.length >= 3, `want several segments, got ${segs.length}`);
  const seg = segs[1]!;
  const frames = etcdFrames(seg);
  const victim = frames[3]!;
  flipByte(seg, victim.offset + 8 + victim.recordBytes - 1);
  const before = hashTree(bad);
  const r = wal(['verify', bad]);
  assert.equal(r.status, 1);
  assert.match(
    r.stdout,
    new RegExp(
      `CORRUPT: first problem: ERR_WAL_CRC_MISMATCH at ${seg.replace(/\./g, '\\.')} offset ${victim.offset}: .*stored crc 0x[0-9a-f]{8}, computed 0x[0-9a-f]{8}`,
    ),
  );
  const j = jsonLines(wal(['verify', '--json', bad]).stdout);
  const summary = j[j.length - 1]!;
  assert.equal(summary['healthy'], false);
  assert.equal(summary['firstProblem']['code'], 'ERR_WAL_CRC_MISMATCH');
  assert.equal(summary['firstProblem']['file'], seg);
  assert.equal(summary['firstProblem']['offset'], victim.offset);
  assert.equal(summary['firstProblem']['repairable'], false);
  // The stored CRC is the record's own (as the healthy copy shows it); the computed one differs.
  const healthy = jsonLines(wal(['dump', '--json', dir]).stdout).find(
    (l) => l['segment'] === path.basename(seg) && l['offset'] === victim.offset,
  )!;
  const m = /stored crc 0x([0-9a-f]{8}), computed 0x([0-9a-f]{8})/.exec(summary['firstProblem']['detail'])!;
  assert.equal(Number.parseInt(m[1]!, 16), healthy['crc']);
  // computed = CRC-32C of the damaged data continuing the chain from the previous record's crc.
  const all = jsonLines(wal(['dump', '--json', dir]).stdout).filter((l) => l['kind'] === 'record');
  const prev = all[all.findIndex((l) => l['segment'] === path.basename(seg) && l['offset'] === victim.offset) - 1]!;
  const damaged = walpbData(fs.readFileSync(seg).subarray(victim.offset + 8, victim.offset + 8 + victim.recordBytes));
  assert.equal(Number.parseInt(m[2]!, 16), crc32c(damaged, prev['crc']));
  assert.deepEqual(hashTree(bad), before);
});

test('verify: a truncated last segment is a repairable torn tail; a missing segment is reported', async () => {
  const { root, dir } = await freshEtcdWal(60);
  const torn = copy(dir, path.join(root, 'torn'));
  const last = etcdSegments(torn).pop()!;
  const frames = etcdFrames(last);
  const victim = frames[frames.length - 1]!;
  fs.truncateSync(last, victim.offset + 5);
  const r = jsonLines(wal(['verify', '--json', torn]).stdout).pop()!;
  assert.equal(r['healthy'], false);
  assert.equal(r['firstProblem']['code'], 'ERR_WAL_UNEXPECTED_EOF');
  assert.equal(r['firstProblem']['offset'], victim.offset);
  assert.equal(r['firstProblem']['repairable'], true);
  assert.match(wal(['verify', torn]).stdout, /torn or truncated tail: 'wal repair'/);

  const gap = copy(dir, path.join(root, 'gap'));
  const segs = etcdSegments(gap);
  fs.rmSync(segs[1]!);
  const g = wal(['verify', gap]);
  assert.equal(g.status, 1);
  assert.match(g.stdout, /ERR_WAL_FILE_NOT_FOUND at .*segment sequence jumps from 0 to 2|ERR_WAL_FILE_NOT_FOUND/);
});

test('verify: LevelDB — flipped byte reported at the damaged record, truncation as a torn tail; unchanged', async () => {
  const { root, file: log } = await freshLevelDBLog('000005.log', 20);
  const frags = levelDBFragments(log);
  const full = frags.filter((f) => f.type === 1);
  const victim = full[5]!;
  const bad = path.join(root, 'bad', '000005.log');
  fs.mkdirSync(path.dirname(bad));
  fs.copyFileSync(log, bad);
  flipByte(bad, victim.offset + 7 + Math.floor(victim.length / 2));
  const before = hashTree(bad);
  const r = wal(['verify', '--json', bad]);
  assert.equal(r.status, 1);
  const s = jsonLines(r.stdout).pop()!;
  assert.equal(s['firstProblem']['code'], 'ERR_WAL_LEVELDB_CORRUPTION');
  assert.equal(s['firstProblem']['offset'], victim.offset);
  assert.match(s['firstProblem']['message'], /checksum mismatch/);
  assert.deepEqual(hashTree(bad), before);

  const torn = path.join(root, 'torn', '000005.log');
  fs.mkdirSync(path.dirname(torn));
  fs.copyFileSync(log, torn);
  const lastStart = frags.filter((f) => f.type === 1 || f.type === 2).pop()!;
  fs.truncateSync(torn, lastStart.offset + 10);
  const t = jsonLines(wal(['verify', '--json', torn]).stdout).pop()!;
  assert.equal(t['firstProblem']['code'], 'ERR_WAL_UNEXPECTED_EOF');
  assert.equal(t['firstProblem']['repairable'], true);
  assert.equal(t['records'], 19);
});

test('verify: usage errors exit 2 without a stack trace', async () => {
  const missing = wal(['verify']);
  assert.equal(missing.status, 2);
  assert.match(missing.stderr, /missing PATH/);
  const unknown = wal(['verify', '--bogus', '.']);
  assert.equal(unknown.status, 2);
  assert.match(unknown.stderr, /unknown option --bogus/);
  const nowhere = wal(['verify', path.join(tempDir(), 'nope')]);
  assert.equal(nowhere.status, 2);
  const empty = wal(['verify', tempDir()]);
  assert.equal(empty.status, 2);
  assert.match(empty.stderr, /--format/);
  for (const r of [missing, unknown, nowhere, empty]) assert.ok(!/\n\s+at /.test(r.stderr), r.stderr);
});
