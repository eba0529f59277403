// Power loss during Log.open's own repair (the cut of a torn tail, etcd's Repair) and during the
// appends that follow it: a directory whose last record is torn is opened through the recording
// layer, five records are appended, and every crash state of that history must reopen with every
// record before the torn one intact, every acknowledged new record present, the torn record never
// back, and — whenever the tail has lost bytes — a `.broken` copy holding the whole damaged
// segment (the backup is made durable, data and directory entry, before the truncation).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { defaultBackend } from '../../src/io/backend';
import { Log } from '../../src/log/log';
import { assertBrokenCopyKept, checkCrashStates, scratchDir } from '../support/crash-states';
import { DAMAGE_CASES, RECORDS, SEGMENT_SIZE, payload, walFiles, writeLogDir } from '../support/damaged-tails';
import { RecordingIo } from '../support/recording-io';

const fresh = (i: number): Buffer => Buffer.alloc(300, `new ${i};`);
const STATES = Number(process.env['CRASH_STATES_OPEN_REPAIR'] ?? 600);

for (const c of DAMAGE_CASES.filter((d) => d.expect === 'cut').slice(0, 2)) {
  test(`power loss while Log.open cuts a torn tail (${c.name}) and appends after it`, async () => {
    const root = scratchDir('open-repair-');
    const dir = path.join(root, 'log');
    await writeLogDir(dir);
    c.damage(dir);
    const tailName = path.basename(walFiles(dir).at(-1)!);
    const damaged = fs.readFileSync(path.join(dir, tailName));
    const kept = c.lastIndex!;
    assert.equal(kept, RECORDS - 1);

    const rec = new RecordingIo(defaultBackend, root);
    const log = await Log.open(dir, { io: rec, segmentSize: SEGMENT_SIZE });
    assert.ok(log.stats().repaired !== null, 'the open repaired the tail');
    for (let i = 1; i <= 5; i++) rec.mark({ acked: Number(await log.append(fresh(kept + i))) });
    await log.close();

    const scratch = scratchDir('open-repair-states-');
    const res = await checkCrashStates({
      rec,
      scratch,
      variants: 20,
      seed: 12,
      limit: STATES,
      check: async (stateRoot, state) => {
        const d = path.join(stateRoot, 'log');
        assertBrokenCopyKept(d, tailName, damaged);
        const acked = state.marks.map((m) => (m as { acked: number }).acked).at(-1) ?? kept;
        const l = await Log.open(d, { segmentSize: SEGMENT_SIZE });
        try {
          const seen: Buffer[] = [];
          for await (const e of l.entries()) seen.push(Buffer.from(e.data));
          assert.ok(seen.length >= acked, `lost acknowledged records: ${seen.length} < ${acked}`);
          seen.forEach((data, k) => {
            const want = k < kept ? payload(k + 1) : fresh(k + 1);
            assert.ok(
              data.equals(want),
              `entry ${k + 1}: ${k < kept ? 'an old record damaged' : 'not the new record (the torn one came back?)'}`,
            );
          });
        } finally {
          await l.close();
        }
      },
    });
    assert.ok(res.checked >= 20, `only ${res.checked} distinct states`);
  });
}
