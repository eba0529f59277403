/**
 * Durable consumers (docs/consumers.md), same-run comparisons:
 *   drain      — a consumer draining a backlog of N × 100 B records, committing every batch of 1000,
 *                vs a bare `for await (… of log.entries())` scan of the same log; alternating runs.
 *   producers  — 256 producers × 100 B appending for S seconds, without a consumer, with one live
 *                in-process consumer committing each batch, and with one in a child process (a
 *                read-only open); alternating runs; plus each consumer's append→delivery latency
 *                (each record carries its send time).
 *   latency    — append→delivery latency at light load (one append per ms) in-process and from a
 *                read-only consumer in a child process (pollMs 5 and 1).
 *
 *   node --import tsx bench/consumer.bench.ts [drain|producers|latency|all] [records=2000000] [runs=5] [seconds=3]
 * Serialise timed runs: flock /tmp/bench.lock node --import tsx bench/consumer.bench.ts
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { defaultBackend } from '../src/io/backend';
import { Log } from '../src/log/log';
import { consumeLive, fmt, median, now, pct, produce, record, sentAt } from './timed-producers';

/** Reads everything with consumer `name`, committing every batch; `overlap`: each commit runs during the next read. */
async function consumeAll(log: Log, name: string, maxRecords: number, overlap: boolean): Promise<number> {
  const c = await log.consumer(name);
  const t0 = performance.now();
  let n = 0;
  let inFlight: Promise<void> = Promise.resolve();
  for (;;) {
    const b = await c.read({ maxRecords, maxBytes: 64 << 20 });
    if (overlap) await inFlight;
    if (b.length === 0) break;
    n += b.length;
    if (overlap) inFlight = c.commit(b[b.length - 1]!.index);
    else await c.commit(b[b.length - 1]!.index);
  }
  const rate = n / ((performance.now() - t0) / 1000);
  await c.close();
  await log.deleteConsumer(name);
  return n === 0 ? 0 : rate;
}

async function drain(records: number, runs: number): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nodewal-drain-'));
  try {
    const log = await Log.open(dir);
    const batch: Buffer[] = [];
    for (let i = 0; i < 1000; i++) batch.push(Buffer.alloc(100, i & 0xff));
    for (let i = 0; i < records; i += 1000) await log.appendBatch(batch);
    const variants = [
      { label: 'batches of 1,000, each commit awaited', max: 1000, overlap: false },
      { label: 'batches of 1,000, commit overlapping the next read', max: 1000, overlap: true },
      { label: 'batches of 10,000 (the default; 1 MB), each commit awaited', max: 10_000, overlap: false },
      { label: 'batches of 10,000 (the default; 1 MB), commit overlapping the next read', max: 10_000, overlap: true },
    ];
    const scan: number[] = [];
    const rates = variants.map(() => [] as number[]);
    for (let run = 0; run < runs; run++) {
      const t0 = performance.now();
      let n = 0;
      let bytes = 0;
      for await (const e of log.entries()) {
        n++;
        bytes += e.data.length;
      }
      scan.push(n / ((performance.now() - t0) / 1000));
      if (n !== records || bytes !== records * 100) throw new Error(`scan read ${n} records`);
      for (let v = 0; v < variants.length; v++)
        rates[v]!.push(await consumeAll(log, `d${run}-${v}`, variants[v]!.max, variants[v]!.overlap));
    }
    await log.close();
    console.log(
      `drain ${fmt(records)} × 100 B (${defaultBackend.kind}), medians of ${runs} alternating runs: bare entries() ${fmt(median(scan))} rec/s`,
    );
    variants.forEach((v, i) => {
      const r = rates[i]!;
      console.log(
        `  consumer, ${v.label}: ${fmt(median(r))} rec/s = ${(median(r) / median(scan)).toFixed(2)}× (per-run ${r.map((x, k) => (x / scan[k]!).toFixed(2)).join(' ')})`,
      );
    });
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

type Placement = 'none' | 'in-process' | 'child';

/** A read-only consumer in another process committing each batch until SIGTERM; prints its latencies (ms). */
async function liveChild(dir: string): Promise<void> {
  const log = await Log.open(dir, { readOnly: true, pollMs: 1 });
  const c = await log.consumer('live', { start: 'newest' });
  let stop = false;
  process.once('SIGTERM', () => (stop = true));
  process.stdout.write('ready\n');
  const lat: number[] = [];
  await consumeLive(
    c,
    () => stop,
    (e, t) => lat.push(t - sentAt(e.data)),
  );
  await c.close();
  await log.close();
  process.stdout.write(`${JSON.stringify(lat)}\n`);
}

/** 256 producers for `seconds` with a consumer committing each batch placed as said: records/s, and its latencies. */
async function producersOnce(placement: Placement, seconds: number, lat: number[]): Promise<number> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nodewal-prod-'));
  try {
    const log = await Log.open(dir);
    let stop = false;
    let done: Promise<void> = Promise.resolve();
    if (placement === 'in-process') {
      const c = await log.consumer('live', { start: 'newest' });
      done = (async () => {
        await consumeLive(
          c,
          () => stop,
          (e, t) => lat.push(t - sentAt(e.data)),
        );
        await c.close();
      })();
    } else if (placement === 'child') {
      await log.sync(); // publishes durable.tmp, which a read-only open needs
      const child = spawn(process.execPath, ['--import', 'tsx', __filename, 'live-child', dir], { stdio: ['ignore', 'pipe', 'inherit'] });
      let out = '';
      child.stdout.on('data', (d: Buffer) => (out += d.toString()));
      while (!out.includes('ready')) await new Promise((r) => setTimeout(r, 10));
      done = (async () => {
        while (!stop) await new Promise((r) => setTimeout(r, 20));
        child.kill('SIGTERM');
        await new Promise((r) => child.once('exit', r));
        for (const x of JSON.parse(out.split('\n')[1]!) as number[]) lat.push(x);
      })();
    }
    const rate = await produce((d) => log.append(d), seconds);
    stop = true;
    await done;
    await log.close();
    return rate;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

async function producers(runs: number, seconds: number): Promise<void> {
  const placements: Placement[] = ['none', 'in-process', 'child'];
  const rates = new Map<Placement, number[]>(placements.map((p) => [p, []]));
  const lats = new Map<Placement, number[]>(placements.map((p) => [p, []]));
  for (let run = 0; run < runs; run++) for (const p of placements) rates.get(p)!.push(await producersOnce(p, seconds, lats.get(p)!));
  const alone = rates.get('none')!;
  console.log(
    `256 producers × 100 B (${defaultBackend.kind}), medians of ${runs} alternating ${seconds} s runs: without a consumer ${fmt(median(alone))} rec/s`,
  );
  for (const p of ['in-process', 'child'] as const) {
    const r = rates.get(p)!;
    const l = lats.get(p)!;
    const where = p === 'child' ? 'a read-only consumer in another process (pollMs 1)' : 'one in-process consumer';
    console.log(
      `  with ${where} committing each batch: ${fmt(median(r))} rec/s = ${(median(r) / median(alone)).toFixed(2)}× ` +
        `(per-run ${r.map((w, i) => (w / alone[i]!).toFixed(2)).join(' ')}); append→delivery p50 ${pct(l, 50).toFixed(2)} ms, p99 ${pct(l, 99).toFixed(2)} ms`,
    );
  }
}

/** Child-process consumer: read-only open, prints latencies (ms) of every record as JSON at the end. */
async function childConsumer(dir: string, count: number, pollMs: number): Promise<void> {
  let log;
  for (;;) {
    try {
      log = await Log.open(dir, { readOnly: true, pollMs });
      break;
    } catch {
      await new Promise((r) => setTimeout(r, 5));
    }
  }
  const c = await log.consumer('x', { start: 'oldest' });
  process.stdout.write('ready\n');
  const lat: number[] = [];
  while (lat.length < count) {
    const b = await c.read({ maxRecords: 1000, timeoutMs: 1000 });
    const t = now();
    for (const e of b) lat.push(t - sentAt(e.data));
    if (b.length > 0) await c.commit(b[b.length - 1]!.index);
  }
  await c.close();
  await log.close();
  process.stdout.write(`${JSON.stringify(lat)}\n`);
}

async function lightLoad(log: Log, count: number): Promise<void> {
  for (let i = 0; i < count; i++) {
    await log.append(record(100));
    await new Promise((r) => setTimeout(r, 1));
  }
}

async function latency(count: number): Promise<void> {
  // In-process.
  let dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nodewal-lat-'));
  try {
    const log = await Log.open(dir);
    const c = await log.consumer('x');
    const lat: number[] = [];
    const reader = (async () => {
      while (lat.length < count) {
        const b = await c.read({ maxRecords: 1000, timeoutMs: 1000 });
        const t = now();
        for (const e of b) lat.push(t - sentAt(e.data));
        if (b.length > 0) await c.commit(b[b.length - 1]!.index);
      }
    })();
    await lightLoad(log, count);
    await reader;
    await c.close();
    await log.close();
    console.log(
      `append→delivery, one append per ms, in-process (${defaultBackend.kind}): p50 ${pct(lat, 50).toFixed(3)} ms, p99 ${pct(lat, 99).toFixed(3)} ms (${count} records; includes the fdatasync)`,
    );
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  for (const pollMs of [5, 1]) {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nodewal-lat-'));
    try {
      const log = await Log.open(dir);
      await log.sync();
      const child = spawn(process.execPath, ['--import', 'tsx', __filename, 'child', dir, String(count), String(pollMs)], {
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      let out = '';
      child.stdout.on('data', (d: Buffer) => (out += d.toString()));
      while (!out.includes('ready')) await new Promise((r) => setTimeout(r, 10));
      await lightLoad(log, count);
      await new Promise((r) => child.once('exit', r));
      const lat = JSON.parse(out.split('\n')[1]!) as number[];
      await log.close();
      console.log(
        `append→delivery, one append per ms, read-only consumer in another process, pollMs ${pollMs} (${defaultBackend.kind}): p50 ${pct(lat, 50).toFixed(3)} ms, p99 ${pct(lat, 99).toFixed(3)} ms`,
      );
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }
}

async function main(): Promise<void> {
  const [what = 'all', a, b, c] = process.argv.slice(2);
  if (what === 'child') return childConsumer(a!, Number(b), Number(c));
  if (what === 'live-child') return liveChild(a!);
  const records = Number(a ?? 2_000_000);
  const runs = Number(b ?? 5);
  const seconds = Number(c ?? 3);
  if (what === 'drain' || what === 'all') await drain(records, runs);
  if (what === 'producers' || what === 'all') await producers(runs, seconds);
  if (what === 'latency' || what === 'all') await latency(3000);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
