// A holder that stalls (SIGSTOP: the state of a blocked event loop, a frozen container, a
// suspended VM). In our PID namespace it is alive, so it is never displaced. In another one the
// fallback can only judge it by its renewals: it is taken over after it stood still for staleMs,
// and once resumed it must not write again — every append fails with ERR_WAL_LOCKED — while the
// new writer's records and the old writer's acknowledged ones are all there.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { Log } from '../../src/log/log';
import { isWalError } from '../../src/errors';
import { tempDir } from '../support/tmp';
import { TEST_LOCK, Worker, requireUnshare } from '../support/lock-helpers';

const locked = (e: unknown): boolean => isWalError(e, 'ERR_WAL_LOCKED');

async function stalledHolder(pidNamespace: boolean): Promise<{ dir: string; holder: Worker; acked: bigint }> {
  const dir = path.join(tempDir(), 'log');
  // The fallback holder: no OFD lock on its lease, so only its pid or its renewals speak for it.
  const holder = await Worker.start({ native: '0', pidNamespace });
  assert.deepEqual(await holder.request({ cmd: 'open', kind: 'log', path: dir, lock: TEST_LOCK, segmentSize: 4096 }), { ok: true });
  const r = await holder.request({ cmd: 'append', n: 100, tag: 'old' });
  holder.signal('SIGSTOP');
  return { dir, holder, acked: BigInt(r['acked']) };
}

test('a stalled holder in our PID namespace is alive: never displaced', async () => {
  const { dir, holder } = await stalledHolder(false);
  try {
    const t0 = performance.now();
    await assert.rejects(Log.open(dir, { lock: TEST_LOCK }), locked);
    await new Promise((r) => setTimeout(r, TEST_LOCK.staleMs * 2));
    await assert.rejects(Log.open(dir, { lock: TEST_LOCK }), locked);
    assert.ok(performance.now() - t0 >= TEST_LOCK.staleMs * 2);
    holder.signal('SIGCONT');
    const r = await holder.request({ cmd: 'append', n: 10, tag: 'old-after' });
    assert.ok('acked' in r, `the holder writes on after it resumed: ${JSON.stringify(r)}`);
  } finally {
    await holder.kill9();
  }
});

test('a stalled holder in another PID namespace is taken over after staleMs and refuses every write once resumed', async () => {
  requireUnshare();
  const { dir, holder, acked } = await stalledHolder(true);
  try {
    const t0 = performance.now();
    const log = await Log.open(dir, { lock: TEST_LOCK, segmentSize: 4096 });
    const waited = performance.now() - t0;
    assert.ok(waited >= TEST_LOCK.staleMs * 1.5, `watched for staleMs, then the grace: ${waited} ms`);
    assert.equal(log.lastIndex, acked, 'everything the old holder acknowledged is there');
    const mine = await Promise.all(Array.from({ length: 50 }, (_, i) => log.append(`new/${i}`)));
    holder.signal('SIGCONT');
    const r = await holder.request({ cmd: 'append', n: 10, tag: 'old-after' });
    assert.equal(r['failed'], 'ERR_WAL_LOCKED', `the resumed holder must not write: ${JSON.stringify(r)}`);
    const again = await holder.request({ cmd: 'append', n: 1, tag: 'old-again' });
    assert.equal(again['failed'], 'ERR_WAL_LOCKED');
    const more = await Promise.all(Array.from({ length: 50 }, (_, i) => log.append(`new/${50 + i}`)));
    await log.close();
    assert.equal(more[49], acked + 100n);
    const check = await Log.open(dir);
    const records: string[] = [];
    for await (const { data } of check.entries()) records.push(Buffer.from(data).toString());
    await check.close();
    assert.deepEqual(records, [...Array.from({ length: 100 }, (_, i) => `old/${i}`), ...Array.from({ length: 100 }, (_, i) => `new/${i}`)]);
    assert.equal(mine[0], acked + 1n);
  } finally {
    await holder.kill9();
  }
});
