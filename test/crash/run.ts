/**
 * The long kill -9 job: `npm run test:crash -- --cycles N [--formats etcd,log,leveldb,consumer]
 * [--backends native,fallback] [--minutes M] [--verbose]`. N cycles per format and backend
 * (default 1000); each backend runs in its own process (WAL_NATIVE is read at load). Exits
 * non-zero on the first violated invariant, printing where (the data directory is kept).
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { type CrashFormat, runCrashCycles } from './cycles';
import { runConsumerCycles } from './consumer-cycles';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1]! : fallback;
}

async function main(): Promise<void> {
  const cycles = Number(arg('cycles', '1000'));
  const formats = arg('formats', 'etcd,log,leveldb').split(',') as CrashFormat[];
  const backends = arg('backends', 'native,fallback').split(',');
  const minutes = Number(arg('minutes', '0'));
  const verbose = process.argv.includes('--verbose');
  if (process.env['NODEWAL_CRASH_WORKER'] !== '1') {
    // One process per backend: the backend is chosen when the library loads.
    let failed = false;
    for (const b of backends) {
      const env = { ...process.env, NODEWAL_CRASH_WORKER: '1', WAL_NATIVE: b === 'fallback' ? '0' : '1' };
      console.log(`== backend ${b}`);
      const r = spawnSync(process.execPath, [...process.execArgv, __filename, ...process.argv.slice(2)], { stdio: 'inherit', env });
      if (r.status !== 0) failed = true;
    }
    process.exit(failed ? 1 : 0);
  }
  const base = fs.existsSync('/dev/shm') ? '/dev/shm' : os.tmpdir();
  const scratch = fs.mkdtempSync(path.join(base, 'nodewal-crash-'));
  let ok = false;
  try {
    for (const format of formats as (CrashFormat | 'consumer')[]) {
      const t0 = Date.now();
      if (format === 'consumer') {
        // A writer process and a read-only consumer process, both killed (consumer-cycles.ts).
        const r = await runConsumerCycles({
          scratch,
          cycles,
          seed: Number(arg('seed', String(Date.now() % 100000))),
          timeLimitMs: minutes > 0 ? (minutes * 60_000) / formats.length : undefined,
        });
        console.log(
          `consumer (${process.env['WAL_NATIVE'] === '0' ? 'fallback' : 'native'}): ${r.cycles} kill cycles in ${((Date.now() - t0) / 1000).toFixed(1)} s, ` +
            `${r.acknowledged} appends acknowledged, ${r.delivered} batches delivered, ${r.committed} commits, all invariants held`,
        );
        continue;
      }
      const r = await runCrashCycles({
        format,
        scratch,
        cycles,
        seed: Number(arg('seed', String(Date.now() % 100000))),
        timeLimitMs: minutes > 0 ? (minutes * 60_000) / formats.length : undefined,
        log: verbose ? (l) => console.log(l) : undefined,
      });
      console.log(
        `${format} (${process.env['WAL_NATIVE'] === '0' ? 'fallback' : 'native'}): ${r.cycles} kill cycles in ${((Date.now() - t0) / 1000).toFixed(1)} s, ` +
          `${r.killedDuringRecovery} during recovery, ${r.withCuts} with several segments, ${r.acknowledged} records acknowledged, all recovered`,
      );
    }
    ok = true;
  } finally {
    if (ok) fs.rmSync(scratch, { recursive: true, force: true });
    else console.error(`kept ${scratch} for inspection`);
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
