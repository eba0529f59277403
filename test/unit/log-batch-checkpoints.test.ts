/**
 * The checkpoints the writer adds inside each batch (segment-index.ts, batchCheckpoints): after
 * any mix of batch sizes, record sizes, cuts and truncations they are the ones a reopen's scan
 * finds in the same files (recovery.ts, a decoder over every frame), on every write path
 * (pipelined, per-batch commit, O_DIRECT), and no span between two of them is much over
 * CHECKPOINT_BYTES, so a get() of a record this process wrote reads about that much.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { Log } from '../../src/log/log';
import type { LogCore } from '../../src/log/log-core';
import { CHECKPOINT_BYTES } from '../../src/log/segment-index';
import { tempDir } from '../support/tmp';

type Op = { kind: 'batch'; sizes: number[] } | { kind: 'concurrent'; sizes: number[] } | { kind: 'back'; at: number };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant('batch' as const),
      sizes: fc.array(fc.integer({ min: 0, max: 2500 }), { minLength: 1, maxLength: 60 }),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('concurrent' as const),
      sizes: fc.array(fc.integer({ min: 0, max: 400 }), { minLength: 1, maxLength: 80 }),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('back' as const), at: fc.double({ min: 0, max: 1, noNaN: true }) }) },
);

interface Checkpoints {
  name: string;
  index: number[];
  offset: number[];
  crc: number[];
}

function checkpointsOf(log: Log): Checkpoints[] {
  const core = (log as unknown as { core: LogCore }).core;
  return core.segments.map((s) => ({ name: s.name, index: [...s.cpIndex], offset: [...s.cpOffset], crc: [...s.cpCrc] }));
}

const variants: { name: string; opts: { segmentSize: number; syncPolicy?: 'none'; direct?: boolean } }[] = [
  { name: 'pipelined (syncPolicy always)', opts: { segmentSize: 48 * 1024 } },
  { name: 'per-batch commit (syncPolicy none)', opts: { segmentSize: 48 * 1024, syncPolicy: 'none' } },
  { name: 'O_DIRECT where the backend has it', opts: { segmentSize: 48 * 1024, direct: true } },
];

for (const v of variants) {
  test(`the writer's checkpoints are the reopen scan's: ${v.name}`, async () => {
    let counter = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(opArb, { minLength: 1, maxLength: 10 }), async (ops) => {
        const dir = tempDir();
        const log = await Log.open(dir, v.opts);
        let written: Checkpoints[];
        try {
          for (const op of ops) {
            const datas = (op.kind === 'back' ? [] : op.sizes).map((n) => new Uint8Array(n).fill((counter++ % 251) + 1));
            if (op.kind === 'batch') await log.appendBatch(datas);
            else if (op.kind === 'concurrent') await Promise.all(datas.map((d) => log.append(d)));
            else {
              const first = Number(log.firstIndex);
              const last = Number(log.lastIndex);
              await log.truncateBack(BigInt(first - 1 + Math.floor(op.at * (last - first + 2))));
            }
          }
          written = checkpointsOf(log);
          for (const seg of written) {
            for (let k = 1; k < seg.offset.length; k++) {
              // At most one frame (a record of ≤ 2,500 B plus headers) past the distance.
              assert.ok(seg.offset[k]! - seg.offset[k - 1]! < CHECKPOINT_BYTES + 2600, `${seg.name}: span at ${seg.offset[k - 1]}`);
            }
          }
        } finally {
          await log.close();
        }
        const reopened = await Log.open(dir, { ...v.opts, mustExist: true });
        try {
          assert.deepEqual(written, checkpointsOf(reopened));
        } finally {
          await reopened.close();
        }
      }),
      { numRuns: 40 },
    );
  });
}
