// A damaged consumer journal: every byte flipped (three patterns), truncated at every record
// boundary and inside records, zeroed, grown, a record of another log. The result is always a
// typed error or exactly the state the intact records give — each consumer at a position it
// durably had (its previous commit when its latest record is hit), never one ahead; a single
// damaged byte never loses or brings back a consumer (creation records are written twice).
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { defaultBackend } from '../../src/io/backend';
import { WalErrorCodes, isWalError } from '../../src/errors';
import { RECORD_BYTES, encodeRecord, readStoredCursors } from '../../src/log/cursor-journal';
import { Log } from '../../src/log/log';
import { tempDir } from '../support/tmp';

const io = defaultBackend;
const OPTS = { segmentSize: 8192 };

/** What the test did, one entry per record it expects in the journal, in order: [name, committed | 'deleted']. */
type Written = [string, number | 'deleted'];

async function journalWithHistory(): Promise<{ dir: string; bytes: Buffer; written: Written[] }> {
  const dir = tempDir();
  const log = await Log.open(dir, OPTS);
  await log.appendBatch(Array.from({ length: 40 }, (_, i) => `r${i}`));
  const written: Written[] = [];
  const cs = new Map();
  for (const name of ['a', 'b', 'c', 'gone']) {
    cs.set(name, await log.consumer(name));
    written.push([name, 0], [name, 0]); // created: two copies
  }
  for (const [name, v] of [
    ['a', 3],
    ['b', 5],
    ['a', 9],
    ['c', 2],
    ['b', 11],
    ['a', 17],
    ['gone', 4],
  ] as const) {
    const c = cs.get(name);
    await c.read({ maxRecords: v - Number(c.committed) });
    await c.commit(BigInt(v)); // one at a time: one record each
    written.push([name, v]);
  }
  for (const c of cs.values()) await c.close();
  await log.deleteConsumer('gone');
  written.push(['gone', 'deleted'], ['gone', 'deleted']);
  await log.close();
  return { dir, bytes: fs.readFileSync(path.join(dir, 'consumers.journal.tmp')), written };
}

/** The state the records `keep` (indexes into `written`) give: each name's last one, deleted names left out. */
function stateOf(written: Written[], keep: (i: number) => boolean): Map<string, number> {
  const last = new Map<string, number | 'deleted'>();
  written.forEach(([n, v], i) => keep(i) && last.set(n, v));
  return new Map([...last].filter((e): e is [string, number] => e[1] !== 'deleted'));
}

async function storedState(dir: string, logId: string): Promise<Map<string, number>> {
  const { cursors } = await readStoredCursors(io, dir, logId);
  return new Map(
    [...cursors.values()]
      .filter((r) => r.kind === 'position')
      .map((r) => [r.name, Number(r.committed)] as [string, number])
      .sort((x, y) => (x[0] < y[0] ? -1 : 1)),
  );
}

const sorted = (m: Map<string, number>): Map<string, number> => new Map([...m].sort((x, y) => (x[0] < y[0] ? -1 : 1)));

test('every byte of the journal flipped (three patterns): exactly the state without the damaged record', async () => {
  const { dir, bytes, written } = await journalWithHistory();
  const file = path.join(dir, 'consumers.journal.tmp');
  const logId = fs.readFileSync(path.join(dir, 'log-id.tmp'), 'latin1').split(' ')[2]!;
  assert.equal(bytes.length, written.length * RECORD_BYTES, 'one record per commit, two per creation and deletion');
  const all = sorted(stateOf(written, () => true));
  assert.deepEqual(await storedState(dir, logId), all);
  assert.deepEqual(
    all,
    new Map([
      ['a', 17],
      ['b', 11],
      ['c', 2],
    ]),
  );
  let fellBack = 0;
  for (let at = 0; at < bytes.length; at++) {
    for (const mask of [0x01, 0x80, 0xff]) {
      const b = Buffer.from(bytes);
      b[at]! ^= mask;
      fs.writeFileSync(file, b);
      const hit = Math.floor(at / RECORD_BYTES);
      const want = sorted(stateOf(written, (i) => i !== hit));
      const got = await storedState(dir, logId);
      assert.deepEqual(got, want, `flip ${mask} at ${at} (record ${hit})`);
      // Never ahead, never a lost or resurrected consumer.
      assert.deepEqual([...got.keys()], [...all.keys()]);
      for (const [n, v] of got) assert.ok(v <= all.get(n)!);
      if ([...got].some(([n, v]) => v !== all.get(n))) fellBack++;
    }
  }
  // The three consumers' latest records (a:17, b:11, c:2) each fall back when hit.
  assert.equal(fellBack, 3 * RECORD_BYTES * 3);
});

test('truncated, zeroed, grown or foreign journals, opened through the Log', async () => {
  const { dir, bytes, written } = await journalWithHistory();
  const file = path.join(dir, 'consumers.journal.tmp');
  const openState = async (content: Buffer): Promise<Map<string, number> | 'error'> => {
    fs.writeFileSync(file, content);
    const log = await Log.open(dir, OPTS);
    try {
      const listed = sorted(new Map((await log.consumers()).map((c) => [c.name, Number(c.committed)])));
      // Each listed consumer opens where it is listed.
      for (const [n, v] of listed) {
        const c = await log.consumer(n);
        assert.equal(Number(c.committed), v);
        await c.close();
      }
      return listed;
    } catch (err) {
      assert.ok(isWalError(err, WalErrorCodes.CONSUMER_CORRUPT), String(err));
      return 'error';
    } finally {
      await log.close();
    }
  };
  // Truncated: the state of the whole records left (an earlier state of the journal).
  for (let k = 0; k <= written.length; k++) {
    for (const extra of [0, 1, RECORD_BYTES - 1]) {
      if (k === written.length && extra > 0) continue;
      const len = k * RECORD_BYTES + extra;
      assert.deepEqual(await openState(bytes.subarray(0, len)), sorted(stateOf(written, (i) => i < k)), `truncated to ${len}`);
      fs.writeFileSync(file, bytes); // opening wrote nothing, but start each case from the original
    }
  }
  // Zeroed whole, and zeroed records 8..10 (a:3, b:5, a:9): the state without them.
  assert.deepEqual(await openState(Buffer.alloc(bytes.length)), new Map(), 'zeroed');
  const hole = Buffer.from(bytes);
  hole.fill(0, 8 * RECORD_BYTES, 11 * RECORD_BYTES);
  assert.deepEqual(await openState(hole), sorted(stateOf(written, (i) => i < 8 || i >= 11)), 'zeroed records 8..10');
  // Grown: trailing bytes that are not records are ignored.
  const all = sorted(stateOf(written, () => true));
  assert.deepEqual(await openState(Buffer.concat([bytes, Buffer.alloc(5000, 7)])), all, 'grown');
  // A record of another log: a typed error naming the file, not a guess.
  const foreign = encodeRecord(io, {
    kind: 'position',
    name: 'a',
    epoch: 0,
    seq: 99n,
    committed: 39n,
    lastCommitAt: 1,
    truncations: 0,
    logId: '0123456789abcdef0123456789abcdef',
  });
  assert.equal(await openState(Buffer.concat([bytes, foreign])), 'error', 'foreign record');
  const log = await Log.open(dir, OPTS);
  await assert.rejects(log.consumer('a'), (e: unknown) => isWalError(e, WalErrorCodes.CONSUMER_CORRUPT) && e.file === file);
  await log.close();
});
