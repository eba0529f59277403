// Power loss during WAL.repair (etcd's Repair: copy the segment to `.broken`, truncate the torn
// record, sync): a WAL whose last record is torn is repaired through the recording layer, and in
// every crash state of that history the tail either still holds every byte it had, or its
// `.broken` copy is there with the whole damaged segment — so a cut record is never lost from
// both places. This fails if the backup's data or its directory entry is not made durable before
// the truncation (etcd itself syncs neither; the Log's repair, crash-log-open-repair, shares this cut).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { WAL } from '../../src/etcd/wal';
import { EMPTY_HARD_STATE } from '../../src/etcd/codec';
import { Decoder, openSources } from '../../src/etcd/decoder';
import { defaultBackend } from '../../src/io/backend';
import { RecordingIo } from '../support/recording-io';
import { assertBrokenCopyKept, checkCrashStates, scratchDir } from '../support/crash-states';

const ENTRIES = 10;
const SEGMENT = 64 * 1024;
const data = (i: number): Uint8Array => new Uint8Array(300).fill(i);

/** Offset of the last record's frame in the single segment of `dir`. */
async function lastFrameOffset(file: string): Promise<number> {
  const sources = await openSources(defaultBackend, [file]);
  try {
    const dec = new Decoder(defaultBackend, sources);
    let last = -1;
    for (;;) {
      let more = dec.nextRecord();
      if (typeof more !== 'boolean') more = await more;
      if (!more) return last;
      last = dec.record.offset;
    }
  } finally {
    await sources[0]!.file.close();
  }
}

test('power loss while WAL.repair cuts a torn tail: the cut bytes are always in the tail or in .broken', async () => {
  const root = scratchDir('etcd-repair-');
  const dir = path.join(root, 'wal');
  const w = await WAL.create(dir, null, { segmentSizeBytes: SEGMENT });
  await w.save(
    EMPTY_HARD_STATE,
    Array.from({ length: ENTRIES }, (_, k) => ({ term: 1n, index: BigInt(k + 1), type: 0, data: data(k + 1) })),
  );
  await w.close();
  const tailName = fs
    .readdirSync(dir)
    .filter((n) => n.endsWith('.wal'))
    .sort()
    .at(-1)!;
  const tailPath = path.join(dir, tailName);
  // Tear the last entry: the file ends 40 bytes into its frame.
  fs.truncateSync(tailPath, (await lastFrameOffset(tailPath)) + 40);
  const damaged = fs.readFileSync(tailPath);

  const rec = new RecordingIo(defaultBackend, root);
  assert.equal(await WAL.repair(dir, { io: rec }), true);
  assert.ok(fs.existsSync(`${tailPath}.broken`));

  const res = await checkCrashStates({
    rec,
    scratch: scratchDir('etcd-repair-states-'),
    variants: 20,
    seed: 7,
    limit: 400,
    check: async (stateRoot) => {
      const d = path.join(stateRoot, 'wal');
      assertBrokenCopyKept(d, tailName, damaged);
      // Whatever state the repair reached, repairing again and reading gives entries 1..9.
      assert.equal(await WAL.repair(d), true);
      const r = await WAL.openForRead(d, { index: 0n, term: 0n });
      try {
        const { entries } = await r.readAll();
        assert.deepEqual(
          entries.map((e) => Number(e.index)),
          Array.from({ length: ENTRIES - 1 }, (_, k) => k + 1),
        );
        entries.forEach((e, k) => assert.deepEqual(e.data, data(k + 1)));
      } finally {
        await r.close();
      }
    },
  });
  assert.ok(res.checked >= 5, `only ${res.checked} distinct states`);
});
