// `wal stat`, `wal dump --json` and `wal consumer` on a Log directory with consumers: the log id,
// positions, lag and last commit; reset (to an index, with confirmation) and delete.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Log } from '../../src/log/log';
import { tempDir } from '../support/tmp';
import { jsonLines, wal } from '../support/cli-helpers';

async function logWithConsumers(): Promise<{ dir: string; id: string }> {
  const dir = tempDir();
  const log = await Log.open(dir, { segmentSize: 8192 });
  await log.appendBatch(Array.from({ length: 120 }, (_, i) => `record ${i + 1}`));
  const a = await log.consumer('alpha');
  await a.read({ maxRecords: 30 });
  await a.commit(30n);
  await a.close();
  const b = await log.consumer('beta', { start: 'newest' });
  await b.close();
  const id = log.id;
  await log.close();
  return { dir, id };
}

test('wal stat and wal dump --json show the log id; stat lists consumers with position, lag and last commit', async () => {
  const { dir, id } = await logWithConsumers();
  const stat = wal(['stat', dir]);
  assert.equal(stat.status, 0, stat.stderr);
  assert.match(stat.stdout, new RegExp(`log id: ${id}`));
  assert.match(stat.stdout, /alpha: committed 30, lag 90 records, last commit 20\d\d-/);
  assert.match(stat.stdout, /beta: committed 120, lag 0 records, last commit never/);
  const js = jsonLines(wal(['stat', dir, '--json']).stdout);
  const consumers = js.filter((o) => o['kind'] === 'consumer');
  assert.deepEqual(
    consumers.map((c) => [c['name'], c['committed'], c['lagRecords']]),
    [
      ['alpha', 30, 90],
      ['beta', 120, 0],
    ],
  );
  assert.equal(js.find((o) => o['kind'] === 'summary')!['logId'], id);
  const dump = jsonLines(wal(['dump', dir, '--json']).stdout);
  assert.equal(dump.find((o) => o['kind'] === 'summary')!['logId'], id);
});

test('wal consumer: list, reset with confirmation, delete; refused while the consumer is open', async () => {
  const { dir } = await logWithConsumers();
  const list = wal(['consumer', dir]);
  assert.equal(list.status, 0, list.stderr);
  assert.match(list.stdout, /alpha: committed 30/);
  // Without a terminal and without --yes: refused, nothing changed.
  const refused = wal(['consumer', dir, 'reset', 'alpha', '--to', '10']);
  assert.equal(refused.status, 2);
  assert.match(refused.stderr, /--yes/);
  assert.equal(jsonLines(wal(['consumer', dir, '--json']).stdout)[0]!['committed'], 30);
  assert.equal(wal(['consumer', dir, 'reset', 'alpha', '--to', '121', '--yes']).status, 2, 'past the last record');
  const reset = wal(['consumer', dir, 'reset', 'alpha', '--to', '10', '--yes']);
  assert.equal(reset.status, 0, reset.stderr);
  const log = await Log.open(dir, { segmentSize: 8192 });
  const a = await log.consumer('alpha');
  assert.equal(a.committed, 10n);
  assert.equal((await a.read({ maxRecords: 1 }))[0]!.index, 11n);
  // Open in this process: the CLI is refused.
  const busy = wal(['consumer', dir, 'delete', 'alpha', '--yes']);
  assert.equal(busy.status, 1);
  assert.match(busy.stderr, /ERR_WAL_LOCKED/);
  await a.close();
  await log.close();
  const del = wal(['consumer', dir, 'delete', 'alpha', '--yes']);
  assert.equal(del.status, 0, del.stderr);
  assert.deepEqual(
    jsonLines(wal(['consumer', dir, '--json']).stdout).map((c) => c['name']),
    ['beta'],
  );
  assert.equal(wal(['consumer', dir, 'delete', 'nobody', '--yes']).status, 1);
  assert.equal(wal(['consumer', dir, 'frobnicate']).status, 2);
});
