// kill -9 cycles of a writer process and a read-only consumer process, both restarted every
// cycle (test/crash/consumer-cycles.ts). CI size: CRASH_CONSUMER_CYCLES per backend (default 16,
// time-bounded); `npm run test:crash -- --formats consumer --cycles N` runs more.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runConsumerCycles } from './consumer-cycles';
import { scratchDir } from '../support/crash-states';

const CYCLES = Number(process.env['CRASH_CONSUMER_CYCLES'] ?? 16);

test(
  `writer and consumer processes killed at random moments: at-least-once, never a skip (${CYCLES} cycles)`,
  { timeout: 180_000 },
  async () => {
    const t0 = Date.now();
    const r = await runConsumerCycles({ scratch: scratchDir('nodewal-kill-consumer-'), cycles: CYCLES, seed: 977, timeLimitMs: 40_000 });
    console.log(
      `# consumer kill -9: ${r.cycles} cycles in ${((Date.now() - t0) / 1000).toFixed(1)} s; ${r.acknowledged} appends acknowledged, ` +
        `${r.delivered} batches delivered, ${r.committed} commits resolved, ${r.retained} cycles after retention removed segments`,
    );
    assert.ok(r.cycles >= Math.min(CYCLES, 4));
    assert.ok(r.acknowledged > 0 && r.committed > 0, 'records were written and committed before kills');
  },
);
