// The same race as lock-race.test.ts for the other two writers: rounds of three processes opening
// one etcd WAL directory (WAL.open) or one LevelDB log (LevelDBLogWriter.open) at once, the winner
// killed with SIGKILL after its acknowledged writes. Exactly one writer per round, the others get
// ERR_WAL_LOCKED (again while the winner writes); every acknowledged record is there, in order.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { WAL } from '../../src/etcd/wal';
import { readLevelDBLog } from '../../src/leveldb/reader';
import { tempDir } from '../support/tmp';
import { TEST_LOCK, Worker } from '../support/lock-helpers';

const OPENERS = 3;
const ROUNDS = 3;
const HALF = 30;

async function race(kind: 'wal' | 'leveldb', target: string, read: () => Promise<string[]>): Promise<void> {
  const workers = await Promise.all(Array.from({ length: OPENERS }, () => Worker.start()));
  const expected: string[] = [];
  try {
    for (let round = 0; round < ROUNDS; round++) {
      const open = { cmd: 'open', kind, path: target, lock: TEST_LOCK, segmentSize: 4096 };
      const replies = await Promise.all(workers.map((w) => w.request(open)));
      const winners = replies.flatMap((r, i) => (r['ok'] === true ? [i] : []));
      assert.equal(winners.length, 1, `${kind} round ${round}: exactly one writer, got ${JSON.stringify(replies)}`);
      for (const r of replies) if (r['ok'] !== true) assert.equal(r['code'], 'ERR_WAL_LOCKED', JSON.stringify(r));
      const wi = winners[0]!;
      for (const half of ['a', 'b']) {
        const r = await workers[wi]!.request({ cmd: 'append', n: HALF, tag: `r${round}/${half}` });
        assert.ok('acked' in r, `${kind} round ${round}: the writer failed: ${JSON.stringify(r)}`);
        for (let i = 0; i < HALF; i++) expected.push(`r${round}/${half}/${i}`);
        if (half === 'b') break;
        for (const [i, w] of workers.entries()) {
          if (i !== wi) assert.equal((await w.request(open))['code'], 'ERR_WAL_LOCKED');
        }
      }
      await workers[wi]!.kill9();
      workers[wi] = await Worker.start();
    }
  } finally {
    await Promise.all(workers.map((w) => w.kill9()));
  }
  assert.deepEqual(await read(), expected);
}

test('racing WAL.open after a SIGKILL: one writer per round, every acknowledged entry there', async () => {
  const dir = path.join(tempDir(), 'wal');
  await (await WAL.create(dir, null, { segmentSizeBytes: 4096 })).close();
  await race('wal', dir, async () => {
    const w = await WAL.openForRead(dir, { index: 0n, term: 0n });
    const { entries } = await w.readAll();
    await w.close();
    return entries.map((e) => Buffer.from(e.data!).toString());
  });
});

test('racing LevelDBLogWriter.open after a SIGKILL: one writer per round, every acknowledged record there', async () => {
  const file = path.join(tempDir(), '000007.log');
  await race('leveldb', file, async () => {
    const out: string[] = [];
    for await (const { data } of readLevelDBLog(file, { strict: true })) out.push(Buffer.from(data).toString());
    return out;
  });
});
