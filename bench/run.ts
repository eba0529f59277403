/**
 * `npm run bench [filter]`: runs every bench/*.bench.ts whose name contains `filter` (all when
 * omitted), each in a fresh node process so one benchmark's JIT state and heap do not colour the
 * next. Extra arguments after the filter are passed to each benchmark.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

const [filter = '', ...rest] = process.argv.slice(2);
const dir = __dirname;
const files = fs
  .readdirSync(dir)
  .filter((name) => name.endsWith('.bench.ts') && name.includes(filter))
  .sort();
if (files.length === 0) {
  console.error(`no bench/*.bench.ts matches "${filter}"`);
  process.exit(1);
}
let failed = 0;
for (const file of files) {
  console.log(`\n## ${file}\n`);
  const run = spawnSync(process.execPath, ['--import', 'tsx', path.join(dir, file), ...rest], { stdio: 'inherit' });
  if (run.status !== 0) {
    failed++;
    console.error(`${file} exited with ${run.status ?? run.signal}`);
  }
}
process.exitCode = failed === 0 ? 0 : 1;
