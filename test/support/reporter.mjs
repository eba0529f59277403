// A readable reporter for node --test: one line per test file (passed/failed, seconds), the
// failures in full, and a closing "N passed, N failed, N skipped" line. Used by `npm test`.
// Plain ESM so node can load it without a TypeScript loader.
import * as path from 'node:path';

const tty = process.stdout.isTTY && !process.env.NO_COLOR;
const paint = (code, s) => (tty ? `\x1b[${code}m${s}\x1b[0m` : s);
const green = (s) => paint(32, s);
const red = (s) => paint(31, s);
const dim = (s) => paint(2, s);

function rel(file) {
  return file ? path.relative(process.cwd(), file) : '(no file)';
}

function errorText(err) {
  if (!err) return '';
  const cause = err.cause ?? err;
  const text = cause?.stack ?? cause?.message ?? String(cause);
  return String(text)
    .split('\n')
    .filter((l) => !/node:internal\//.test(l))
    .slice(0, 30)
    .join('\n');
}

export default async function* reporter(source) {
  const label = process.env.WAL_TEST_LABEL ? `${process.env.WAL_TEST_LABEL}: ` : '';
  let file = null;
  let fileMs = 0;
  let fp = 0;
  let ff = 0;
  let fs = 0;
  const failures = [];
  let passed = 0;
  let failed = 0;
  let skipped = 0;
  const start = Date.now();
  const flush = function* () {
    if (file === null) return;
    const secs = (fileMs / 1000).toFixed(1);
    const mark = ff > 0 ? red('✗') : green('✓');
    const counts = `${fp} passed${ff > 0 ? red(`, ${ff} failed`) : ''}${fs > 0 ? `, ${fs} skipped` : ''}`;
    yield `${mark} ${rel(file)}  ${counts}  ${dim(`${secs} s`)}\n`;
    for (const f of failures.splice(0)) yield `    ${red('✗')} ${f.name}\n${f.text.replace(/^/gm, '      ')}\n`;
  };
  for await (const event of source) {
    const d = event.data ?? {};
    if (event.type !== 'test:pass' && event.type !== 'test:fail') continue;
    if (d.file !== undefined && d.file !== file) {
      yield* flush();
      file = d.file;
      fp = ff = fs = 0;
      fileMs = 0;
    }
    // A file's time: its top-level tests' own durations (events may arrive in bursts).
    if (d.nesting === 0) fileMs += d.details?.duration_ms ?? 0;
    if (d.details?.type === 'suite') continue;
    // A parent whose subtests failed: the subtests were counted already.
    if (event.type === 'test:fail' && d.details?.error?.failureType === 'subtestsFailed') continue;
    if (d.skip !== undefined && d.skip !== false) {
      fs++;
      skipped++;
    } else if (event.type === 'test:pass') {
      fp++;
      passed++;
    } else {
      ff++;
      failed++;
      failures.push({ name: d.name, text: errorText(d.details?.error) });
    }
  }
  yield* flush();
  const secs = Math.round((Date.now() - start) / 1000);
  yield `\n${dim(`${secs} s`)}\n${label}${passed} passed, ${failed} failed, ${skipped} skipped\n`;
}
