// Runs inside the older Debian root (scripts/test-old-glibc.sh): loads the addon under test through
// the built package, checks it is really the native backend, and exercises the calls whose symbol
// imports were changed for old glibc (file size, the dedicated sync thread, locks, CRC).
'use strict';
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

async function main() {
  const { Log, backend, crc32c } = require(process.argv[2]);
  if (backend.kind !== 'native') throw new Error(`expected the native backend, got ${backend.kind}: ${backend.reason}`);
  if (crc32c(Buffer.from('123456789')) !== 0xe3069283) throw new Error('CRC-32C check value');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nodewal-old-glibc-'));
  // Small segments and rounds of concurrent appends: many batches on the sync thread, several cuts.
  const log = await Log.open(dir, { segmentSize: 64 * 1024 });
  for (let round = 0; round < 10; round++) {
    await Promise.all(Array.from({ length: 200 }, (_, i) => log.append(`record ${round * 200 + i}`.padEnd(200, '.'))));
  }
  const stats = log.stats();
  await log.close();
  const again = await Log.open(dir);
  let n = 0;
  for await (const e of again.entries()) {
    if (Buffer.from(e.data).toString() !== `record ${n}`.padEnd(200, '.')) throw new Error(`entry ${e.index} differs`);
    n++;
  }
  await again.close();
  fs.rmSync(dir, { recursive: true, force: true });
  if (n !== 2000) throw new Error(`read back ${n} of 2000`);
  const glibc = process.report.getReport().header.glibcVersionRuntime;
  console.log(JSON.stringify({ ok: true, glibc, segments: stats.segments, fsyncs: stats.fsyncs, reason: backend.reason }));
}

main().catch((err) => {
  console.error(err && err.stack ? err.stack : String(err));
  process.exit(1);
});
