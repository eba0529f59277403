/**
 * Log directories read and continued by etcd 3.4.23's own wal package (the Go harness of
 * test/interop/etcd): after appends, cuts, truncateFront and truncateBack, etcd's Open at the
 * latest snapshot + ReadAll returns exactly the entries Log holds; etcd can continue the log and
 * Log reads what etcd appended.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Log } from '../../src/log/log';
import { tempDir } from '../support/tmp';
import { runGo } from './etcd/harness';
import type { Op } from './etcd/script';

function b64(d: Uint8Array): string {
  return Buffer.from(d).toString('base64');
}

test('etcd Open + ReadAll at the Log snapshot returns the Log entries; etcd appends, Log reads them', async () => {
  for (const seed of [1, 2, 3, 4, 5, 6]) {
    const dir = tempDir('log-etcd-');
    const log = await Log.open(dir, { segmentSize: 4096, term: 3n });
    const model = new Map<bigint, Uint8Array>();
    let x = seed;
    const rnd = (n: number): number => {
      x = (x * 1103515245 + 12345) % 2 ** 31;
      return x % n;
    };
    for (let round = 0; round < 12; round++) {
      const datas = Array.from({ length: 1 + rnd(20) }, (_, i) => Buffer.alloc(rnd(600), round * 31 + i));
      const last = await log.appendBatch(datas);
      datas.forEach((d, i) => model.set(last - BigInt(datas.length - 1 - i), d));
      const r = rnd(10);
      if (r === 0 && log.lastIndex > log.firstIndex) {
        const at = log.firstIndex + BigInt(rnd(Number(log.lastIndex - log.firstIndex)));
        await log.truncateFront(at);
        for (const k of [...model.keys()]) if (k < at) model.delete(k);
      } else if (r === 1 && log.lastIndex > log.firstIndex) {
        const at = log.lastIndex - BigInt(1 + rnd(5));
        await log.truncateBack(at < log.firstIndex - 1n ? log.firstIndex - 1n : at);
        for (const k of [...model.keys()]) if (k > log.lastIndex) model.delete(k);
      }
    }
    const first = log.firstIndex;
    const lastBefore = log.lastIndex;
    await log.close();

    const snap = (first - 1n).toString();
    // etcd's term for the snapshot: the term Log wrote (3), or 0 for the initial {0,0}.
    const term = first === 1n ? '0' : '3';
    const ops: Op[] = [
      { op: 'open', dir, index: snap, term, segmentSize: 4096 },
      { op: 'readAll', fullData: true },
      {
        op: 'save',
        state: { term: '3', vote: '0', commit: '0' },
        entries: [{ term: '3', index: (lastBefore + 1n).toString(), type: 0, data: { b64: b64(Buffer.from('from etcd')) } }],
      },
      { op: 'close' },
    ];
    const [opened, read, saved, closed] = runGo(ops);
    assert.equal(opened!.error ?? null, null, `seed ${seed}: etcd Open: ${opened!.error}`);
    assert.equal(read!.error ?? null, null, `seed ${seed}: etcd ReadAll: ${read!.error}`);
    const got = read!.entries!.map((e) => [BigInt(e.index), Buffer.from(e.b64 ?? '', 'base64')] as const);
    assert.deepEqual(
      got.map(([i]) => i),
      [...model.keys()].sort((a, b) => (a < b ? -1 : 1)),
      `seed ${seed}: indexes`,
    );
    for (const [i, d] of got) assert.ok(d.equals(model.get(i)!), `seed ${seed}: entry ${i}`);
    assert.equal(saved!.error ?? null, null);
    assert.equal(closed!.error ?? null, null);

    // Log continues what etcd wrote (etcd also added a HardState record, which Log skips).
    const again = await Log.open(dir, { segmentSize: 4096 });
    try {
      assert.equal(again.lastIndex, lastBefore + 1n);
      assert.equal(Buffer.from(await again.get(lastBefore + 1n)).toString(), 'from etcd');
      assert.equal(await again.append('after'), lastBefore + 2n);
    } finally {
      await again.close();
    }
  }
});
