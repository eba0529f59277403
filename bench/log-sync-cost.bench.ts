/**
 * What does one write + fdatasync cost on this disk, depending on what the blocks under the write were?
 * Decides how Log prepares its next segment (see docs/log.md, "Preallocation"):
 *   append     — the file grows with every write (no preallocation);
 *   fallocate  — the file was preallocated with fallocate(1) (unwritten extents, as etcd does);
 *   zero-fill  — the file was filled with explicit zero writes and fdatasync'd once (background zero-fill);
 *   recycled   — an old segment full of earlier records, overwritten in place.
 * Every case writes sequential blocks of `size` bytes, each followed by fdatasync, like a WAL tail.
 *
 *   node --import tsx bench/log-sync-cost.bench.ts [samples=300] [size=4096]
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

// `npm run bench log- …` passes the same arguments to every log bench: ignore what is not an integer here.
const arg = (i: number, dflt: number): number =>
  Number.isInteger(Number(process.argv[i])) && process.argv[i] ? Number(process.argv[i]) : dflt;
const samples = arg(2, 300);
const size = arg(3, 4096);
const fileBytes = 16 * 1024 * 1024;

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!;
}

function prepare(file: string, kind: string): void {
  const fd = fs.openSync(file, 'w', 0o600);
  if (kind === 'fallocate') {
    fs.closeSync(fd);
    execFileSync('fallocate', ['-l', String(fileBytes), file]);
    return;
  }
  if (kind === 'zero-fill' || kind === 'recycled') {
    const chunk = Buffer.alloc(1024 * 1024, kind === 'recycled' ? 0x5a : 0);
    for (let off = 0; off < fileBytes; off += chunk.length) fs.writeSync(fd, chunk, 0, chunk.length, off);
    fs.fdatasyncSync(fd);
  }
  fs.closeSync(fd);
}

function measure(file: string): number[] {
  const fd = fs.openSync(file, 'r+');
  const block = Buffer.alloc(size, 0x42);
  const micros: number[] = [];
  for (let i = 0; i < samples; i++) {
    const t0 = process.hrtime.bigint();
    fs.writeSync(fd, block, 0, size, i * size);
    fs.fdatasyncSync(fd);
    micros.push(Number(process.hrtime.bigint() - t0) / 1000);
  }
  fs.closeSync(fd);
  return micros.sort((a, b) => a - b);
}

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nodewal-synccost-'));
try {
  console.log(`write ${size} B + fdatasync, ${samples} samples per case, ${os.cpus().length} CPUs, node ${process.version}`);
  console.log('| case | p50 µs | p99 µs | max µs |');
  console.log('|---|---:|---:|---:|');
  for (const kind of ['append', 'fallocate', 'zero-fill', 'recycled']) {
    const file = path.join(dir, `${kind}.seg`);
    prepare(file, kind);
    const m = measure(file);
    console.log(`| ${kind} | ${percentile(m, 0.5).toFixed(0)} | ${percentile(m, 0.99).toFixed(0)} | ${m[m.length - 1]!.toFixed(0)} |`);
    fs.rmSync(file);
  }
} finally {
  fs.rmSync(dir, { recursive: true, force: true });
}
