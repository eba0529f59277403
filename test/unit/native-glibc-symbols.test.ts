// The addon must load on glibc 2.28 systems (Debian 10, Ubuntu 20.04, RHEL 8): it may import no
// symbol version newer than glibc 2.28 and GCC 8's libstdc++ provide. No glibc-2.28 userland can be
// had here (Debian's mirrors no longer serve buster), so this checks the binary's version needs,
// which is what the dynamic loader checks; scripts/test-old-glibc.sh runs it in a Debian 11 root.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

const root = path.resolve(__dirname, '../..');
// eslint-disable-next-line @typescript-eslint/no-require-imports
const checker = require(path.join(root, 'scripts/check-glibc-symbols.js')) as {
  check(file: string): { newest: Record<string, string>; offenders: { symbol: string; family: string; version: string }[] };
};

test('the built addon imports nothing newer than glibc 2.28 / GLIBCXX 3.4.25 / CXXABI 1.3.11', () => {
  const binary = path.join(root, 'build/Release/nodewal.node');
  assert.ok(fs.existsSync(binary), `${binary} must exist (npm install builds it)`);
  const { newest, offenders } = checker.check(binary);
  assert.deepEqual(offenders, []);
  // It does import versioned glibc symbols at all (an unparsed objdump would pass vacuously).
  assert.match(newest.GLIBC ?? '', /^2\.\d+$/);
});

test('the checker reports a library built for the newer glibc of this machine', () => {
  const libstdcxx = execFileSync('g++', ['-print-file-name=libstdc++.so.6'], { encoding: 'utf8' }).trim();
  const { offenders } = checker.check(fs.realpathSync(libstdcxx));
  // Debian 12's libstdc++ imports e.g. pthread_create@GLIBC_2.34 and __libc_single_threaded@GLIBC_2.32.
  assert.ok(
    offenders.some((o) => o.family === 'GLIBC'),
    JSON.stringify(offenders.slice(0, 3)),
  );
});

test('the command-line form exits 1 and names the symbol', () => {
  const libstdcxx = fs.realpathSync(execFileSync('g++', ['-print-file-name=libstdc++.so.6'], { encoding: 'utf8' }).trim());
  let status = 0;
  let stderr = '';
  try {
    execFileSync(process.execPath, [path.join(root, 'scripts/check-glibc-symbols.js'), libstdcxx], { stdio: 'pipe' });
  } catch (err) {
    status = (err as { status: number }).status;
    stderr = String((err as { stderr: Buffer }).stderr);
  }
  assert.equal(status, 1);
  assert.match(stderr, /@GLIBC_2\.3\d/);
});
