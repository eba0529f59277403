// A write that fails after putting part of a frame down (ENOSPC after a short write) must not leave
// that partial frame for the next open to trip on: etcd only calls a tail torn when a whole sector
// of it is zero, so a frame cut inside a sector reads as corruption ("illegal field number 0")
// and the directory could no longer be opened. Swept over where the write stops and over record
// sizes, so the cut lands inside sectors, on their edges and across them.
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { test } from 'node:test';
import { WAL } from '../../src/etcd/wal';
import { defaultBackend } from '../../src/io/backend';
import { FaultIo } from '../support/fault-io';
import { tempDir } from '../support/tmp';

const SNAP0 = { index: 0n, term: 0n };

function payload(i: number, size: number): Uint8Array {
  const b = new Uint8Array(size);
  for (let k = 0; k < size; k++) b[k] = (i * 31 + k * 7) & 0xff || 1;
  return b;
}

test('etcd WAL: a failed short write leaves the directory readable with every synced entry', async () => {
  let cases = 0;
  for (const size of [10, 100, 300, 700, 2000]) {
    for (const partial of [1, 8, 9, 40, 100, 511, 512, 513, 1500]) {
      const dir = path.join(tempDir(), 'wal');
      const io = new FaultIo(defaultBackend);
      const w = await WAL.create(dir, null, { io, segmentSizeBytes: 64 * 1024 });
      let acked = 0;
      for (let i = 1; i <= 3; i++) {
        await w.save({ term: 1n, vote: 1n, commit: BigInt(i - 1) }, [{ term: 1n, index: BigInt(i), type: 0, data: payload(i, size) }]);
        acked = i;
      }
      io.fail({ op: 'write', code: 'ENOSPC', times: 1, partialBytes: partial });
      await assert.rejects(w.save({ term: 1n, vote: 1n, commit: 3n }, [{ term: 1n, index: 4n, type: 0, data: payload(4, size) }]));
      io.clear();
      await w.close().catch(() => undefined);

      const r = await WAL.open(dir, SNAP0, { segmentSizeBytes: 64 * 1024 });
      let got;
      try {
        got = await r.readAll();
      } finally {
        await r.close();
      }
      const want = Array.from({ length: acked }, (_, k) => k + 1);
      assert.deepEqual(
        got.entries.map((e) => Number(e.index)),
        want,
        `record ${size} B, write stopped after ${partial} bytes`,
      );
      for (const e of got.entries) assert.deepEqual(e.data, payload(Number(e.index), size));
      cases++;
    }
  }
  assert.equal(cases, 45);
});
