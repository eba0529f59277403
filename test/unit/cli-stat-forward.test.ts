/**
 * `wal stat` on a forwarded Log directory: the forward section shows what each `wal forward` last
 * reported (its forward.<consumer>.tmp), flags a running report gone stale, and prints the error of
 * a stopped one; --json gives one "forward" object each. The status file is written by the same
 * toStatus/writeStatus the sidecar uses.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { toStatus, writeStatus } from '../../src/cli/forward-status';
import type { ForwardStats } from '../../src/forward/forward';
import { Log } from '../../src/log/log';
import { tempDir } from '../support/tmp';
import { jsonLines, wal } from '../support/cli-helpers';

function stats(over: Partial<ForwardStats>): ForwardStats {
  return {
    state: 'running',
    forwardedRecords: 1234,
    forwardedBytes: 56789,
    forwardedBatches: 7,
    inFlightBatches: 1,
    lastForwarded: 1234n,
    committed: 1200n,
    lagRecords: 34n,
    lagBytes: 3400,
    ackLatency: { count: 7, p50: 2100, p99: 8000, max: 9000, mean: 3000 },
    resumedAfter: 0n,
    resumedFrom: 'sink',
    error: null,
    ...over,
  };
}

test('wal stat shows the forward section: fresh, stale and failed reports; --json objects', async () => {
  const dir = tempDir('nodewal-stat-fwd-');
  const log = await Log.open(dir);
  await log.append('x');
  await log.close();
  const base = { servers: 'nats://127.0.0.1:4222', stream: 'INGEST', startedAt: '2026-12-04T10:00:00.000Z' };
  writeStatus(dir, toStatus({ ...base, consumer: 'live', subject: 'ingest.a' }, stats({}), { retries: 2, reconnects: 1 }));
  const stale = toStatus({ ...base, consumer: 'stale', subject: 'ingest.b' }, stats({}), { retries: 0, reconnects: 0 });
  stale.updatedAt = new Date(Date.now() - 60_000).toISOString();
  writeStatus(dir, stale);
  const failed = Object.assign(new Error('JetStream stream INGEST not found'), { code: 'ERR_WAL_FORWARD_STREAM_NOT_FOUND' });
  writeStatus(
    dir,
    toStatus({ ...base, consumer: 'dead', subject: 'ingest.c' }, stats({ state: 'failed', error: failed }), { retries: 0, reconnects: 0 }),
  );

  const text = wal(['stat', dir]);
  assert.equal(text.status, 0, text.stderr);
  assert.match(text.stdout, /forward:\n/);
  assert.match(text.stdout, /consumer live -> nats:\/\/127\.0\.0\.1:4222 stream INGEST subject ingest\.a: running \(\d+ s ago, pid \d+\)/);
  assert.match(
    text.stdout,
    /forwarded 1,234 records .* in 7 batches .*last index 1234, committed 1200, lag 34 records .*in flight 1, ack p50 2\.1 ms p99 8\.0 ms/,
  );
  assert.match(text.stdout, /consumer stale .*: running\? \(no report for 6\d s/);
  assert.match(
    text.stdout,
    /consumer dead .*: failed .*\n.*\n\s+error: ERR_WAL_FORWARD_STREAM_NOT_FOUND: JetStream stream INGEST not found/,
  );

  const json = jsonLines(wal(['stat', dir, '--json']).stdout).filter((o) => o['kind'] === 'forward');
  assert.deepEqual(
    json.map((o) => [o['consumer'], o['state'], o['lastForwarded'], o['committed']]),
    [
      ['dead', 'failed', '1234', '1200'],
      ['live', 'running', '1234', '1200'],
      ['stale', 'running', '1234', '1200'],
    ],
  );
});
