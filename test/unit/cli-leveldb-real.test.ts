/**
 * The CLI against a log written by real LevelDB (classic-level bundles LevelDB): every batch the
 * database wrote shows up decoded, and verify/stat agree with what was written.
 */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ClassicLevel } from 'classic-level';
import { tempDir } from '../support/tmp';
import { hashTree, jsonLines, wal } from '../support/cli-helpers';

test('a real LevelDB database directory: dump decodes its puts/deletes, verify is clean, nothing modified', async () => {
  const dir = path.join(tempDir(), 'db');
  const db = new ClassicLevel<Buffer, Buffer>(dir, { keyEncoding: 'buffer', valueEncoding: 'buffer' });
  await db.open();
  await db.put(Buffer.from('alpha'), Buffer.from('one'), { sync: true });
  await db.batch(
    [
      { type: 'put', key: Buffer.from([0x00, 0x01, 0x5c]), value: Buffer.from('bin\nval') },
      { type: 'put', key: Buffer.from('big'), value: Buffer.alloc(70_000, 0x7a) },
      { type: 'del', key: Buffer.from('alpha') },
    ],
    { sync: true },
  );
  await db.close();
  const logs = fs.readdirSync(dir).filter((n) => /^\d+\.log$/.test(n));
  assert.equal(logs.length, 1, `logs: ${fs.readdirSync(dir).join(', ')}`);
  const before = hashTree(dir);

  const r = wal(['dump', '--json', dir]);
  assert.equal(r.status, 0, r.stdout + r.stderr);
  const recs = jsonLines(r.stdout).filter((l) => l['kind'] === 'record');
  const ops = recs.flatMap((rec) => rec['ops'].map((o: Record<string, any>) => ({ ...o, batchSeq: rec['sequence'] })));
  assert.deepEqual(
    ops.map((o) => [o['op'], o['key']]),
    [
      ['put', 'alpha'],
      ['put', '\\x00\\x01\\\\'],
      ['put', 'big'],
      ['delete', 'alpha'],
    ],
  );
  assert.deepEqual(
    ops.map((o) => o['sequence']),
    [1, 2, 3, 4],
  );
  assert.equal(Buffer.from(ops[2]['valueBase64'], 'base64').equals(Buffer.alloc(70_000, 0x7a)), true);
  assert.equal(recs[1]!['fragments'] >= 3, true, 'the 70 kB batch spans three blocks');
  assert.equal(ops[1]['value'], 'bin\\nval');

  const v = wal(['verify', dir]);
  assert.equal(v.status, 0, v.stdout);
  assert.match(v.stdout, /2 records, 4 operations/);
  assert.deepEqual(hashTree(dir), before);
});
