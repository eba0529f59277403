#!/usr/bin/env node
// Runs the unit suite with the readable reporter (test/support/reporter.mjs).
//
//   node scripts/run-tests.mjs [--quick] [--backend native|fallback|both] [files...]
//
// --quick leaves out the files listed in SLOW below (crash-state enumeration, fuzzing, long
// property runs, real processes killed mid-write): the quick tier is what `npm test` runs; the full
// suite (`npm run test:full`, and CI) runs everything on both backends. Exit status 1 if any test
// failed on any backend.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');

// Measured with this reporter on the 2-vCPU reference machine (seconds, native + fallback): the
// files that make up most of the full suite's time. Everything else runs in the quick tier.
const SLOW = new Set([
  'crash-etcd-powerloss.test.ts',
  'crash-kill.test.ts',
  'crash-leveldb-powerloss.test.ts',
  'crash-log-powerloss.test.ts',
  'crash-log-tail.test.ts',
  'fuzz-etcd.test.ts',
  'fuzz-leveldb-cli.test.ts',
  'fuzz-log.test.ts',
  'log-crash.test.ts',
]);

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const bi = args.indexOf('--backend');
const backend = bi >= 0 ? args[bi + 1] : 'both';
if (!['native', 'fallback', 'both'].includes(backend)) {
  console.error(`--backend must be native, fallback or both, got ${backend}`);
  process.exit(2);
}
const named = args.filter((a, i) => !a.startsWith('--') && args[i - 1] !== '--backend');
const unit = path.join(root, 'test', 'unit');
const files =
  named.length > 0
    ? named
    : fs
        .readdirSync(unit)
        .filter((f) => f.endsWith('.test.ts') && !(quick && SLOW.has(f)))
        .sort()
        .map((f) => path.join('test', 'unit', f));

const backends = backend === 'both' ? ['native', 'fallback'] : [backend];
let failed = false;
for (const b of backends) {
  console.log(`\n== unit tests${quick ? ' (quick tier)' : ''} on the ${b} backend (WAL_NATIVE=${b === 'native' ? 1 : 0}), ${files.length} files`);
  const r = spawnSync(
    process.execPath,
    ['--import', 'tsx', '--test', '--test-concurrency=1', `--test-reporter=${path.join(root, 'test/support/reporter.mjs')}`, '--test-reporter-destination=stdout', ...files],
    { cwd: root, stdio: 'inherit', env: { ...process.env, WAL_NATIVE: b === 'native' ? '1' : '0', WAL_TEST_LABEL: b } },
  );
  if (r.status !== 0) failed = true;
}
if (quick) console.log(`\nquick tier: ${SLOW.size} slower files left out; the full suite is \`npm run test:full\``);
process.exit(failed ? 1 : 0);
