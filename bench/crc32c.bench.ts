/**
 * CRC-32C throughput: the addon vs the pure-TS fallback (crc-32's slicing-by-16) vs @node-rs/crc32,
 * one call per buffer at 64 B, 1 KiB, 16 KiB and 1 MiB, and a batch of 10,000 x 100 B records
 * (the addon's crc32cChain in one call vs one call per record). Results are checked equal
 * before anything is timed. Prints a markdown table of median MB/s (10^6 bytes per second).
 *
 *   npm run bench crc32c            (BENCH_SECONDS=2 for longer runs; default 1 per case)
 * Targets on the reference 2-core machine: 1 MiB >= 14,000 MB/s, batch >= 5,000 MB/s of payload.
 */
import assert from 'node:assert/strict';
import * as os from 'node:os';
import { randomFillSync } from 'node:crypto';
import Benchmark from 'benchmark';
import { crc32c as nodeRsCrc32c } from '@node-rs/crc32';
import { loadNativeBackend } from '../src/io/native';
import { crc32cFallback, crc32cChainFallback } from '../src/io/fallback';

const loaded = loadNativeBackend();
if (!loaded.backend) throw new Error(`the addon is needed for this benchmark: ${loaded.error}`);
const native = loaded.backend;
const maxTime = Number(process.env['BENCH_SECONDS'] ?? 1);

type Row = { name: string; bytes: number; cases: Record<string, () => unknown> };

function medianHz(bench: Benchmark): number {
  const sample = [...bench.stats.sample].sort((a, b) => a - b); // seconds per operation, per cycle
  const mid = sample.length >> 1;
  const seconds = sample.length % 2 ? sample[mid]! : (sample[mid - 1]! + sample[mid]!) / 2;
  return 1 / seconds;
}

function run(row: Row): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [label, fn] of Object.entries(row.cases)) {
    const bench = new Benchmark(`${row.name} ${label}`, fn, { maxTime, minSamples: 10 });
    bench.run();
    if (bench.error) throw bench.error;
    out[label] = (medianHz(bench) * row.bytes) / 1e6;
  }
  return out;
}

const rows: Row[] = [];
let sink = 0; // keeps results observable so nothing is optimised away

for (const [name, size] of [
  ['64 B', 64],
  ['1 KiB', 1024],
  ['16 KiB', 16 * 1024],
  ['1 MiB', 1024 * 1024],
] as const) {
  const buf = randomFillSync(Buffer.alloc(size));
  const want = crc32cFallback(buf);
  assert.equal(native.crc32c(buf), want);
  assert.equal(nodeRsCrc32c(buf) >>> 0, want);
  rows.push({
    name,
    bytes: size,
    cases: {
      native: () => (sink ^= native.crc32c(buf)),
      fallback: () => (sink ^= crc32cFallback(buf)),
      '@node-rs/crc32': () => (sink ^= nodeRsCrc32c(buf)),
    },
  });
}

// 10,000 records of 100 B laid out back to back: chained CRC of each, as a WAL batch needs.
const records = 10_000;
const recordSize = 100;
const batch = randomFillSync(Buffer.alloc(records * recordSize));
const bounds = new Uint32Array(2 * records);
const views: Buffer[] = [];
for (let i = 0; i < records; i++) {
  bounds[2 * i] = i * recordSize;
  bounds[2 * i + 1] = (i + 1) * recordSize;
  views.push(batch.subarray(i * recordSize, (i + 1) * recordSize));
}
const perRecord = (crc: (b: Uint8Array, seed: number) => number) => (): number => {
  let c = 0;
  for (let i = 0; i < records; i++) c = crc(views[i]!, c);
  return c;
};
const wantChain = crc32cChainFallback(batch, bounds);
assert.deepEqual(native.crc32cChain(batch, bounds), wantChain);
assert.equal(perRecord(native.crc32c)(), wantChain[records - 1]);
assert.equal(perRecord((b, s) => nodeRsCrc32c(b, s) >>> 0)(), wantChain[records - 1]);
rows.push({
  name: '10,000 x 100 B batch',
  bytes: records * recordSize,
  cases: {
    native: () => (sink ^= native.crc32cChain(batch, bounds)[records - 1]!),
    'native, one call per record': () => (sink ^= perRecord(native.crc32c)()),
    fallback: () => (sink ^= crc32cChainFallback(batch, bounds)[records - 1]!),
    '@node-rs/crc32': () => (sink ^= perRecord(nodeRsCrc32c)()),
  },
});

const results = rows.map((row) => ({ row, mbps: run(row) }));
const columns = ['native', 'native, one call per record', 'fallback', '@node-rs/crc32'];
const fmt = (v: number | undefined): string => (v === undefined ? '' : Math.round(v).toLocaleString('en-US'));

console.log(`CRC-32C, median MB/s (10^6 B/s); native = ${native.crcImplementation} (${native.reason})`);
console.log(
  `${os.cpus()[0]?.model ?? 'unknown CPU'} x${os.cpus().length}, Node ${process.version}, ${new Date().toISOString().slice(0, 10)}\n`,
);
console.log(`| size | ${columns.join(' | ')} | native / fallback |`);
console.log(`|---|${columns.map(() => '---:').join('|')}|---:|`);
for (const { row, mbps } of results) {
  const ratio = mbps['native']! / mbps['fallback']!;
  console.log(`| ${row.name} | ${columns.map((c) => fmt(mbps[c])).join(' | ')} | ${ratio.toFixed(1)}x |`);
}
const mib = results.find((r) => r.row.name === '1 MiB')!.mbps['native']!;
const batchRate = results[results.length - 1]!.mbps['native']!;
console.log(
  `\ntargets: 1 MiB ${fmt(mib)} MB/s (>= 14,000: ${mib >= 14000 ? 'met' : 'NOT met'}), ` +
    `batch ${fmt(batchRate)} MB/s (>= 5,000: ${batchRate >= 5000 ? 'met' : 'NOT met'})`,
);
if (sink === 0.5) console.log(''); // never true; reads sink
