#!/usr/bin/env node
// Runs the unit suite (test/unit/) and the crash suites (test/crash/) with the readable reporter
// (test/support/reporter.mjs).
//
//   node scripts/run-tests.mjs [--quick] [--backend native|fallback|both] [files...]
//
// --quick leaves out the files listed in SLOW below (crash states, kill -9 runs, the slowest CLI
// suites): the quick tier is what `npm test` runs; the full
// suite (`npm run test:full`, and CI) runs everything on both backends. Exit status 1 if any test
// failed on any backend.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');

// The files over 5 s each (fallback run with this reporter on the 2-vCPU reference machine,
// 2026-12-04; whole suite 200 s native + 154 s fallback): kill -9 and power-loss crash states,
// the CLI suites that spawn a process per command, the pseudo-terminal and bench runs. They are
// about three quarters of the suite's time; everything else runs in the quick tier.
const SLOW = new Set([
  'unit/cli-bench.test.ts', // 7.5 s
  'unit/cli-format-detect.test.ts', // 8.4 s
  'unit/cli-misc.test.ts', // 9.0 s
  'unit/cli-repair.test.ts', // 7.6 s
  'unit/cli-tty.test.ts', // 8.8 s
  'unit/cli-verify.test.ts', // 8.1 s
  'crash/etcd-powerloss.test.ts', // 14.2 s
  'crash/kill.test.ts', // 18.0 s
  'crash/leveldb-powerloss.test.ts', // 7.8 s
  'crash/log-powerloss.test.ts', // 9.3 s + 5.3 s: merged with log-crash.test.ts
]);
// Files under test/crash/ with a CI stage of their own, never in the unit run.
const OWN_STAGE = new Set([
  'crash/enospc.test.ts', // mounts a tmpfs: `npm run test:enospc`, needs root
]);
const DIRS = ['unit', 'crash'];

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const bi = args.indexOf('--backend');
const backend = bi >= 0 ? args[bi + 1] : 'both';
if (!['native', 'fallback', 'both'].includes(backend)) {
  console.error(`--backend must be native, fallback or both, got ${backend}`);
  process.exit(2);
}
const named = args.filter((a, i) => !a.startsWith('--') && args[i - 1] !== '--backend');
const files =
  named.length > 0
    ? named
    : DIRS.flatMap((dir) =>
        fs
          .readdirSync(path.join(root, 'test', dir))
          .filter((f) => f.endsWith('.test.ts'))
          .map((f) => `${dir}/${f}`)
          .filter((f) => !OWN_STAGE.has(f) && !(quick && SLOW.has(f)))
          .sort()
          .map((f) => path.join('test', f)),
      );

const backends = backend === 'both' ? ['native', 'fallback'] : [backend];
let failed = false;
for (const b of backends) {
  console.log(
    `\n== unit and crash tests${quick ? ' (quick tier)' : ''} on the ${b} backend (WAL_NATIVE=${b === 'native' ? 1 : 0}), ${files.length} files`,
  );
  const r = spawnSync(
    process.execPath,
    [
      '--import',
      'tsx',
      '--test',
      '--test-concurrency=1',
      `--test-reporter=${path.join(root, 'test/support/reporter.mjs')}`,
      '--test-reporter-destination=stdout',
      ...files,
    ],
    { cwd: root, stdio: 'inherit', env: { ...process.env, WAL_NATIVE: b === 'native' ? '1' : '0', WAL_TEST_LABEL: b } },
  );
  if (r.status !== 0) failed = true;
}
if (quick) console.log(`\nquick tier: ${SLOW.size} slower files left out; the full suite is \`npm run test:full\``);
process.exit(failed ? 1 : 0);
