// The NODEWAL_FALLBACK warning as docs/troubleshooting.md describes it: printed once when the addon
// does not load, and silenced by WAL_NATIVE=0 or --disable-warning=NODEWAL_FALLBACK (other
// warnings still shown).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { test } from 'node:test';

const entry = path.join(__dirname, '..', '..', 'src', 'index.ts');
const script = `require(${JSON.stringify(entry)}); require(${JSON.stringify(entry)}); process.emitWarning('another warning', { code: 'OTHER' }); console.log(require(${JSON.stringify(entry)}).backend.kind);`;

function run(env: Record<string, string>, flags: string[] = []): { stdout: string; stderr: string } {
  const base = { ...process.env };
  delete base['WAL_NATIVE'];
  delete base['NODE_NO_WARNINGS'];
  const r = spawnSync(process.execPath, [...flags, '--import', 'tsx', '-e', script], { env: { ...base, ...env }, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return { stdout: r.stdout, stderr: r.stderr };
}

// A binary that cannot load: the library falls back and says why.
const broken = { WAL_NATIVE_PATH: '/nonexistent/nodewal.node' };

test('an addon that does not load: one NODEWAL_FALLBACK warning naming the reason', () => {
  const r = run(broken);
  assert.equal(r.stdout.trim(), 'fallback');
  const lines = r.stderr.split('\n').filter((l) => l.includes('NODEWAL_FALLBACK'));
  assert.equal(lines.length, 1, r.stderr);
  assert.match(
    lines[0]!,
    /NodewalWarning: nodewal runs on its pure-TypeScript fallback \(same bytes, slower\): native addon unavailable: .*nonexistent/,
  );
});

test('silenced by --disable-warning=NODEWAL_FALLBACK (other warnings stay) and by WAL_NATIVE=0', () => {
  const flag = run(broken, ['--disable-warning=NODEWAL_FALLBACK']);
  assert.doesNotMatch(flag.stderr, /NODEWAL_FALLBACK/);
  assert.match(flag.stderr, /another warning/);
  const chosen = run({ ...broken, WAL_NATIVE: '0' });
  assert.equal(chosen.stdout.trim(), 'fallback');
  assert.doesNotMatch(chosen.stderr, /NODEWAL_FALLBACK/);
});
