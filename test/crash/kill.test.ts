// Process crashes: a child appends with sync and reports every acknowledged index; it is SIGKILLed
// at random moments (while appending, during cuts with 4-16 KiB segments, while a 1 MB segment is
// being preallocated, or while it is still recovering from the previous kill); the directory is
// then recovered here and must hold every acknowledged record, intact, as exactly 1..n.
// CI size: CRASH_KILL_CYCLES per format (default 34: 204 cycles per CI run over both backends) for the backend under test (WAL_NATIVE), time-bounded;
// `npm run test:crash -- --cycles N` runs thousands.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runCrashCycles, type CrashFormat } from './cycles';
import { scratchDir } from '../support/crash-states';

const CYCLES = Number(process.env['CRASH_KILL_CYCLES'] ?? 34);
const BUDGET_MS = Number(process.env['CRASH_KILL_BUDGET_MS'] ?? 30_000);

for (const format of ['etcd', 'log', 'leveldb'] as CrashFormat[]) {
  test(`${format}: SIGKILL at random moments loses no acknowledged record (${CYCLES} cycles)`, { timeout: 120_000 }, async () => {
    const scratch = scratchDir(`nodewal-kill-${format}-`);
    const t0 = Date.now();
    const r = await runCrashCycles({ format, scratch, cycles: CYCLES, seed: 4242, timeLimitMs: BUDGET_MS / 3 });
    console.log(
      `# ${format}: ${r.cycles} kill cycles in ${((Date.now() - t0) / 1000).toFixed(1)} s; ${r.killedDuringRecovery} during recovery; ` +
        `${r.withCuts} with several segments; ${r.acknowledged} acknowledged records, all recovered`,
    );
    // Time-bounded, but a run that killed almost nothing proves nothing.
    assert.ok(r.cycles >= Math.min(CYCLES, 8), `only ${r.cycles} cycles ran`);
    assert.ok(r.acknowledged > 0, 'no record was ever acknowledged before a kill');
  });
}
