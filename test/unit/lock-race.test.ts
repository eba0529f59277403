// Issue 12, findings 1, 2, 3 and 6: many rounds of several processes opening one Log directory at
// once — after a clean close, after the writer was killed with SIGKILL, and after a SIGKILL when
// every opener is PID 1 of its own PID namespace (a container restart: the stale lease holds the
// opener's own pid), and with openers on both backends. Each round: exactly one opener gets in, the
// others get ERR_WAL_LOCKED; the refused opens (again while the winner writes through several
// cuts) never harm it; at the end every acknowledged record of every round is there, in order,
// and nothing else is.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Log } from '../../src/log/log';
import { tempDir } from '../support/tmp';
import { TEST_LOCK, Worker, requireUnshare, type WorkerOptions } from '../support/lock-helpers';

const OPENERS = 3;
const ROUNDS = Number(process.env['LOCK_RACE_ROUNDS'] ?? 4);
const SEGMENT = 4096; // ~100 records of this test per segment: a round's 300 records cut 3 times
const APPENDED = 300;

type Ending = 'close' | 'kill';

/** The records a round's winner writes, in order: `append` then `stream` batches of 20. */
function roundRecord(round: number, k: number): string {
  if (k < APPENDED) return `r${round}/a/${k}`;
  const s = k - APPENDED;
  return `r${round}/s/${Math.floor(s / 20)}/${s % 20}`;
}

async function readAll(dir: string): Promise<string[]> {
  const log = await Log.open(dir, { mustExist: true });
  const out: string[] = [];
  for await (const { index, data } of log.entries()) {
    assert.equal(index, BigInt(out.length + 1), 'indexes are contiguous');
    out.push(Buffer.from(data).toString());
  }
  await log.close();
  return out;
}

/** How opener `i` is started: the same for all, or per opener (mixed backends). */
type Starting = WorkerOptions | ((i: number) => WorkerOptions);

async function race(ending: Ending, starting: Starting): Promise<void> {
  const dir = path.join(tempDir(), 'log');
  const how = (i: number): WorkerOptions => (typeof starting === 'function' ? starting(i) : starting);
  const workers = await Promise.all(Array.from({ length: OPENERS }, (_, i) => Worker.start(how(i))));
  const ackedByRound: bigint[] = [];
  try {
    for (let round = 0; round < ROUNDS; round++) {
      const open = { cmd: 'open', kind: 'log', path: dir, lock: TEST_LOCK, segmentSize: SEGMENT };
      const replies = await Promise.all(workers.map((w) => w.request(open)));
      const winners = replies.flatMap((r, i) => (r['ok'] === true ? [i] : []));
      assert.equal(winners.length, 1, `round ${round} (${ending}): exactly one writer, got ${JSON.stringify(replies)}`);
      for (const r of replies) if (r['ok'] !== true) assert.equal(r['code'], 'ERR_WAL_LOCKED', JSON.stringify(r));
      const wi = winners[0]!;
      const winner = workers[wi]!;

      const first = await winner.request({ cmd: 'append', n: APPENDED / 2, tag: `r${round}/a` });
      assert.ok('acked' in first, JSON.stringify(first));
      // Refused opens while the winner writes: the winner's prepared next segment must survive them.
      for (const [i, w] of workers.entries()) {
        if (i === wi) continue;
        const again = await w.request(open);
        assert.equal(again['code'], 'ERR_WAL_LOCKED', `a second open during round ${round}: ${JSON.stringify(again)}`);
      }
      const rest = await winner.request({ cmd: 'append', n: APPENDED / 2, tag: `r${round}/b` });
      assert.ok('acked' in rest, `the live writer was harmed by a refused open: ${JSON.stringify(rest)}`);
      ackedByRound.push(BigInt(rest['acked']));

      if (ending === 'close') {
        assert.deepEqual(await winner.request({ cmd: 'close' }), { closed: true });
        continue;
      }
      winner.send({ cmd: 'stream', tag: `r${round}/s` });
      while (winner.acked < BigInt(rest['acked']) + 40n) await new Promise((r) => setTimeout(r, 5));
      assert.equal(winner.streamFailure, null);
      ackedByRound[round] = winner.acked;
      await winner.kill9();
      workers[wi] = await Worker.start(how(wi));
    }
  } finally {
    await Promise.all(workers.map((w) => w.kill9()));
  }

  const records = await readAll(dir);
  let at = 0;
  for (let round = 0; round < ROUNDS; round++) {
    let k = 0;
    while (at < records.length && records[at]!.startsWith(`r${round}/`)) {
      // `append` is two halves tagged a and b; stream batches follow.
      const expected = k < APPENDED / 2 ? `r${round}/a/${k}` : k < APPENDED ? `r${round}/b/${k - APPENDED / 2}` : roundRecord(round, k);
      assert.equal(records[at], expected, `record ${at + 1}: round ${round}'s records in order, nothing foreign`);
      at++;
      k++;
    }
    assert.ok(BigInt(at) >= ackedByRound[round]!, `round ${round}: acknowledged up to ${ackedByRound[round]}, log holds ${at}`);
  }
  assert.equal(at, records.length, `nothing after the last round: ${records.slice(at, at + 3).join(', ')}`);
  const segments = fs.readdirSync(dir).filter((n) => n.endsWith('.wal')).length;
  assert.ok(segments >= ROUNDS * 2, `the writers cut segments (${segments})`);
}

test('racing openers after a clean close: one writer per round, nothing lost', () => race('close', {}));

test('racing openers after the writer was killed with SIGKILL: one writer takes over, nothing lost', () => race('kill', {}));

test('racing openers, each PID 1 of its own PID namespace, after a SIGKILL (the stale lease holds their own pid)', () => {
  requireUnshare();
  return race('kill', { pidNamespace: true });
});

test('racing openers on mixed backends (native, fallback, native) after a SIGKILL: one writer per round', () =>
  race('kill', (i) => ({ native: i % 2 === 0 ? '1' : '0' })));
