/**
 * Log → JetStream, end to end, on a 3-node R3 cluster of real nats-server processes (loopback),
 * against what the same client reaches without a local log. Contenders, same run, per record size:
 *
 *   forward     256 producers append N records to a Log (durable) while forward() + the JetStream
 *               sink send them; records/s = N / (first append → last batch acknowledged)
 *   direct      the same client publishing the same records straight to the stream, encoded in
 *               batches of the forwarder's mean batch size, the same number in flight (1), no
 *               expectation headers: the ceiling a user would reach without a local log
 *   naive       a forwarder that publishes one message per record (256 in flight), committing per
 *               consumer batch
 *   sidecar     `forward` with `wal forward` in its own process (the log opened read-only)
 *   drain       forwarding a log that already holds the N records, against direct publishing with
 *               the drain's mean batch size: what the forwarder itself sustains; and against direct
 *               publishing with the sink's exactly-once headers, which the server pays for
 *   append      the producers' durable append rate alone, and with the forwarder running (ratio)
 *   latency     append → JetStream ack per record, at a paced 20,000 records/s
 * and a direct-publish sweep of batch size × in-flight (1 vs 16) to show what large batches buy.
 *
 *   flock /tmp/bench.lock node --import tsx bench/forward-jetstream.bench.ts [runs=3] [baseTree]
 * baseTree (a checkout, e.g. a worktree of main): instead of the above, this tree's drain,
 * in-process forward and sidecar against the base tree's, in alternating pairs.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { headers } from 'nats';
import type { NatsConnection } from 'nats';
import { encodeBatch, encodedRecordSize, BATCH_HEADER_RESERVE } from '../src/forward/batch';
import { forward } from '../src/forward/forward';
import type { Sink, SinkRecord } from '../src/forward/sink';
import { jetStreamSink } from '../src/jetstream';
import { LatencyHistogram } from '../src/log/histogram';
import { Log } from '../src/log/log';
import { lastIndexOn } from '../test/nats/support/forwarding';
import { startCluster } from '../test/nats/support/nats-servers';
import type { Servers } from '../test/nats/support/nats-servers';

const RUNS = Number(process.argv[2] ?? 3);
const BASE_TREE = process.argv[3];

/** The Log, forwarder, sink and CLI of one tree: this one, or a base tree for an A/B run. */
interface Impl {
  name: string;
  Log: typeof Log;
  forward: typeof forward;
  jetStreamSink: typeof jetStreamSink;
  cli: string;
}
const THIS: Impl = { name: 'this tree', Log, forward, jetStreamSink, cli: path.join(__dirname, '..', 'src', 'cli', 'main.ts') };

async function loadTree(tree: string): Promise<Impl> {
  const at = (f: string): Promise<Record<string, unknown>> =>
    import(pathToFileURL(path.resolve(tree, f)).href) as Promise<Record<string, unknown>>;
  return {
    name: `base (${tree})`,
    Log: (await at('src/log/log.ts'))['Log'] as typeof Log,
    forward: (await at('src/forward/forward.ts'))['forward'] as typeof forward,
    jetStreamSink: (await at('src/jetstream/index.ts'))['jetStreamSink'] as typeof jetStreamSink,
    cli: path.resolve(tree, 'src', 'cli', 'main.ts'),
  };
}
const PRODUCERS = 256;
let subjectSeq = 0;

const tmp = (): string => fs.mkdtempSync(path.join(os.tmpdir(), 'nodewal-fwdbench-'));
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const fmt = (n: number): string => Math.round(n).toLocaleString('en-US');

function records(n: number, size: number): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < n; i++) {
    const b = Buffer.alloc(size, i & 0xff);
    b.writeUInt32BE(i, 0);
    out.push(b);
  }
  return out;
}

/** 256 producers, each awaiting its append, until all `data` are appended. Returns records/s. */
async function produce(log: { append(d: Uint8Array): Promise<bigint> }, data: Buffer[]): Promise<number> {
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: PRODUCERS }, async () => {
      while (next < data.length) await log.append(data[next++]!);
    }),
  );
  return data.length / ((performance.now() - t0) / 1000);
}

async function forwardRun(
  servers: Servers,
  data: Buffer[],
  impl: Impl = THIS,
): Promise<{ rate: number; meanBatch: number; appendRate: number }> {
  const dir = tmp();
  const log = await impl.Log.open(dir);
  const subject = `bench.s${subjectSeq++}`;
  const sink = await impl.jetStreamSink({ servers: servers.urls, stream: 'BENCH', subject });
  const fw = await impl.forward(log, { consumer: 'js', sink });
  const t0 = performance.now();
  const appendRate = await produce(log, data);
  while (fw.stats().lastForwarded < BigInt(data.length)) await new Promise((r) => setTimeout(r, 1));
  const secs = (performance.now() - t0) / 1000;
  const s = fw.stats();
  await fw.stop();
  await sink.close();
  await log.close();
  fs.rmSync(dir, { recursive: true, force: true });
  return { rate: data.length / secs, meanBatch: s.forwardedRecords / s.forwardedBatches, appendRate };
}

/** CPU seconds so far of this process and of the nats-servers (from /proc: utime + stime). */
function cpuNow(servers: Servers): { node: number; servers: number } {
  const u = process.cpuUsage();
  let ticks = 0;
  for (const n of servers.nodes) {
    const pid = n.proc?.pid;
    if (pid === undefined) continue;
    // Fields after the command name (which may hold spaces): utime and stime are the 12th and 13th.
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    ticks += Number(f[11]) + Number(f[12]);
  }
  return { node: (u.user + u.system) / 1e6, servers: ticks / 100 };
}

/** Runs `run`, adding the CPU it took (µs per record, this process and the servers) to `into`. */
async function withCpu<T>(
  servers: Servers,
  records: number,
  into: { node: number[]; servers: number[] },
  run: () => Promise<T>,
): Promise<T> {
  const a = cpuNow(servers);
  const r = await run();
  const b = cpuNow(servers);
  into.node.push(((b.node - a.node) * 1e6) / records);
  into.servers.push(((b.servers - a.servers) * 1e6) / records);
  return r;
}

/** The same, with the forwarder as a sidecar: `wal forward` in its own process, the log opened read-only. */
async function sidecarRun(
  servers: Servers,
  nc: NatsConnection,
  data: Buffer[],
  impl: Impl = THIS,
): Promise<{ rate: number; appendRate: number }> {
  const dir = tmp();
  const log = await impl.Log.open(dir);
  const subject = `bench.s${subjectSeq++}`;
  const cli = impl.cli;
  const p = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      cli,
      'forward',
      dir,
      '--to',
      servers.urls.join(','),
      '--stream',
      'BENCH',
      '--subject',
      subject,
      '--json',
      '--interval',
      '100',
    ],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  let out = '';
  p.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  while (!out.includes('forward-status')) await new Promise((r) => setTimeout(r, 10));
  const exited = new Promise((r) => p.once('exit', r));
  const t0 = performance.now();
  const appendRate = await produce(log, data);
  while ((await lastIndexOn(nc, 'BENCH', subject)) < BigInt(data.length)) await new Promise((r) => setTimeout(r, 5));
  const secs = (performance.now() - t0) / 1000;
  p.kill('SIGTERM');
  await exited;
  await log.close();
  fs.rmSync(dir, { recursive: true, force: true });
  return { rate: data.length / secs, appendRate };
}

/** Forwarding a log that already holds the records (what the forwarder alone sustains). */
async function drainRun(servers: Servers, data: Buffer[], impl: Impl = THIS): Promise<{ rate: number; meanBatch: number }> {
  const dir = tmp();
  const log = await impl.Log.open(dir);
  for (let i = 0; i < data.length; i += 10_000) await log.appendBatch(data.slice(i, i + 10_000));
  const sink = await impl.jetStreamSink({ servers: servers.urls, stream: 'BENCH', subject: `bench.s${subjectSeq++}` });
  const t0 = performance.now();
  const fw = await impl.forward(log, { consumer: 'drain', sink });
  while (fw.stats().lastForwarded < BigInt(data.length)) await new Promise((r) => setTimeout(r, 1));
  const secs = (performance.now() - t0) / 1000;
  const s = fw.stats();
  await fw.stop();
  await sink.close();
  await log.close();
  fs.rmSync(dir, { recursive: true, force: true });
  return { rate: data.length / secs, meanBatch: s.forwardedRecords / s.forwardedBatches };
}

async function appendOnly(data: Buffer[]): Promise<number> {
  const dir = tmp();
  const log = await Log.open(dir);
  const rate = await produce(log, data);
  await log.close();
  fs.rmSync(dir, { recursive: true, force: true });
  return rate;
}

/**
 * The same records straight to the stream: batches of `batch` records, `inFlight` publishes
 * outstanding. `exactlyOnce` adds what the sink sends with each batch for its guarantee (a message
 * id and the expected last sequence of the subject; 1 in flight only), which the server checks.
 */
async function directRun(nc: NatsConnection, data: Buffer[], batch: number, inFlight: number, exactlyOnce = false): Promise<number> {
  const js = nc.jetstream();
  const subject = `bench.s${subjectSeq++}`;
  const logId = 'f'.repeat(32);
  const t0 = performance.now();
  let next = 0;
  let lastSeq = 0;
  const worker = async (): Promise<void> => {
    while (next < data.length) {
      const from = next;
      const to = Math.min(data.length, from + batch);
      next = to;
      const recs = [];
      for (let i = from; i < to; i++) recs.push({ index: BigInt(i + 1), data: data[i]! });
      const enc = encodeBatch(logId, recs);
      const h = headers();
      for (const [k, v] of Object.entries(enc.headers)) h.set(k, v);
      const ack = await js.publish(
        subject,
        enc.body,
        exactlyOnce
          ? { headers: h, msgID: `${subject}:${enc.first}-${enc.last}`, expect: { lastSubjectSequence: lastSeq, streamName: 'BENCH' } }
          : { headers: h },
      );
      lastSeq = ack.seq;
    }
  };
  await Promise.all(Array.from({ length: inFlight }, worker));
  return data.length / ((performance.now() - t0) / 1000);
}

/** One message per record, 256 in flight: a forwarder without batching. */
function naiveSink(nc: NatsConnection, subject: string): Sink {
  const js = nc.jetstream();
  return {
    maxInFlight: 1,
    async send(recs: readonly SinkRecord[]) {
      for (let i = 0; i < recs.length; i += 256) {
        await Promise.all(recs.slice(i, i + 256).map((r) => js.publish(subject, r.data, { msgID: `${r.logId}:${r.index}` })));
      }
    },
  };
}

async function naiveRun(servers: Servers, nc: NatsConnection, data: Buffer[]): Promise<number> {
  const dir = tmp();
  const log = await Log.open(dir);
  const fw = await forward(log, { consumer: 'naive', sink: naiveSink(nc, `bench.s${subjectSeq++}`), maxRecords: 4096 });
  const t0 = performance.now();
  await produce(log, data);
  while (fw.stats().lastForwarded < BigInt(data.length)) await new Promise((r) => setTimeout(r, 1));
  const secs = (performance.now() - t0) / 1000;
  await fw.stop();
  await log.close();
  fs.rmSync(dir, { recursive: true, force: true });
  void servers;
  return data.length / secs;
}

/** Append → ack latency per record at a paced rate. */
async function latencyRun(
  servers: Servers,
  size: number,
  rate: number,
  seconds: number,
): Promise<{ p50: number; p99: number; count: number }> {
  const dir = tmp();
  const log = await Log.open(dir);
  const js = await jetStreamSink({ servers: servers.urls, stream: 'BENCH', subject: `bench.s${subjectSeq++}` });
  const started = new Map<bigint, number>();
  const hist = new LatencyHistogram();
  const timing: Sink = {
    maxBatchBytes: js.maxBatchBytes,
    lastForwarded: (id) => js.lastForwarded(id),
    async send(recs, o) {
      await js.send(recs, o);
      acked(recs[0]!.index, recs[recs.length - 1]!.index);
    },
    // The path forward() takes with the JetStream sink: batches read straight into their body.
    async sendBatch(b, o) {
      await js.sendBatch(b, o);
      acked(b.first, b.last);
    },
  };
  const acked = (first: bigint, last: bigint): void => {
    const now = performance.now();
    for (let i = first; i <= last; i++) {
      const t = started.get(i);
      if (t !== undefined) hist.record((now - t) * 1000);
      started.delete(i);
    }
  };
  const fw = await forward(log, { consumer: 'lat', sink: timing });
  const total = rate * seconds;
  const payload = Buffer.alloc(size, 7);
  const t0 = performance.now();
  let index = 0n;
  const pending: Promise<bigint>[] = [];
  for (let i = 0; i < total; i++) {
    // Pace: wait until this record's scheduled time (1 ms granularity, bursts of rate/1000).
    const due = t0 + (i * 1000) / rate;
    const wait = due - performance.now();
    if (wait > 1) await new Promise((r) => setTimeout(r, wait));
    index++;
    started.set(index, performance.now());
    pending.push(log.append(payload));
  }
  await Promise.all(pending);
  while (fw.stats().lastForwarded < index) await new Promise((r) => setTimeout(r, 1));
  await fw.stop();
  await js.close();
  await log.close();
  fs.rmSync(dir, { recursive: true, force: true });
  const s = hist.summary();
  return { p50: s.p50, p99: s.p99, count: s.count };
}

/** The cluster, the R3 stream and `fresh`, which runs a contender on an empty stream. */
async function startBench(): Promise<{ servers: Servers; nc: NatsConnection; fresh: <T>(run: () => Promise<T>) => Promise<T> }> {
  const servers = await startCluster();
  await servers.addStream({ name: 'BENCH', subjects: ['bench.>'], num_replicas: 3 });
  const nc = await servers.connect();
  const jsm = await nc.jetstreamManager();
  // Every contender starts on an empty stream: the store grows by up to 400 MB per contender (x3
  // nodes on one disk), and a full one made the last contenders of a run slower than the first
  // (append → ack p50 311 ms at 1 KiB late in one run, 2-6 ms on a fresh cluster).
  const fresh = async <T>(run: () => Promise<T>): Promise<T> => {
    await jsm.streams.purge('BENCH');
    return run();
  };
  return { servers, nc, fresh };
}

async function main(): Promise<void> {
  const { servers, nc, fresh } = await startBench();
  console.log(
    `nats-server ${nc.info?.version}, 3 nodes, R3 file stream, max_payload ${nc.info?.max_payload}; ${os.cpus().length} CPUs, load ${os.loadavg()[0]!.toFixed(1)}; ${RUNS} runs, medians`,
  );
  try {
    for (const [size, n, naiveN] of [
      [100, 400_000, 20_000],
      [1024, 100_000, 10_000],
    ] as const) {
      const data = records(n, size);
      const fwd: number[] = [];
      const dir: number[] = [];
      const naive: number[] = [];
      const alone: number[] = [];
      const withFw: number[] = [];
      const drain: number[] = [];
      const drainDirect: number[] = [];
      const drainDirectOnce: number[] = [];
      let drainBatch = 0;
      const side: number[] = [];
      const withSide: number[] = [];
      let meanBatch = 0;
      const cpu = {
        alone: { node: [] as number[], servers: [] as number[] },
        forward: { node: [] as number[], servers: [] as number[] },
        direct: { node: [] as number[], servers: [] as number[] },
        drain: { node: [] as number[], servers: [] as number[] },
      };
      for (let r = 0; r < RUNS; r++) {
        alone.push(await withCpu(servers, n, cpu.alone, () => appendOnly(data)));
        const sc = await fresh(() => sidecarRun(servers, nc, data));
        side.push(sc.rate);
        withSide.push(sc.appendRate);
        const f = await fresh(() => withCpu(servers, n, cpu.forward, () => forwardRun(servers, data)));
        fwd.push(f.rate);
        withFw.push(f.appendRate);
        meanBatch = f.meanBatch;
        dir.push(await fresh(() => withCpu(servers, n, cpu.direct, () => directRun(nc, data, Math.max(1, Math.round(f.meanBatch)), 1))));
        naive.push(await fresh(() => naiveRun(servers, nc, data.slice(0, naiveN))));
        const d = await fresh(() => withCpu(servers, n, cpu.drain, () => drainRun(servers, data)));
        drain.push(d.rate);
        drainBatch = d.meanBatch;
        drainDirect.push(await fresh(() => directRun(nc, data, Math.max(1, Math.round(d.meanBatch)), 1)));
        drainDirectOnce.push(await fresh(() => directRun(nc, data, Math.max(1, Math.round(d.meanBatch)), 1, true)));
      }
      const F = median(fwd);
      const D = median(dir);
      const Nv = median(naive);
      console.log(`\n${size} B records, ${fmt(n)} per run (naive: ${fmt(naiveN)}); forwarder's mean batch ${fmt(meanBatch)} records`);
      const S = median(side);
      console.log(`  forward in-process (Log → JetStream, end to end) ${fmt(F).padStart(10)} rec/s   runs: ${fwd.map(fmt).join(', ')}`);
      console.log(
        `  forward as a sidecar (wal forward, read-only)  ${fmt(S).padStart(10)} rec/s   runs: ${side.map(fmt).join(', ')}   sidecar/direct ${(S / median(dir)).toFixed(2)}x, sidecar/naive ${(S / median(naive)).toFixed(1)}x`,
      );
      console.log(
        `  direct publish, same batches, 1 in flight ${fmt(D).padStart(7)} rec/s   runs: ${dir.map(fmt).join(', ')}   forward/direct ${(F / D).toFixed(2)}x`,
      );
      console.log(
        `  naive forwarder, 1 msg/record, 256 in flight ${fmt(Nv).padStart(4)} rec/s   runs: ${naive.map(fmt).join(', ')}   forward/naive ${(F / Nv).toFixed(1)}x`,
      );
      console.log(
        `  producers' durable appends alone ${fmt(median(alone)).padStart(10)} rec/s; with the forwarder in-process ${fmt(median(withFw))} rec/s (${(median(withFw) / median(alone)).toFixed(2)}x), ` +
          `with the sidecar ${fmt(median(withSide))} rec/s (${(median(withSide) / median(alone)).toFixed(2)}x)`,
      );
      console.log(
        `  drain: forwarding a log that already holds them ${fmt(median(drain)).padStart(10)} rec/s (mean batch ${fmt(drainBatch)})   runs: ${drain.map(fmt).join(', ')}; ` +
          `direct, same batches ${fmt(median(drainDirect))} rec/s   runs: ${drainDirect.map(fmt).join(', ')}   drain/direct ${(median(drain) / median(drainDirect)).toFixed(2)}x, drain/naive ${(median(drain) / Nv).toFixed(1)}x`,
      );
      console.log(
        `  direct with the sink's exactly-once headers (message id, expected last subject sequence), same batches ${fmt(median(drainDirectOnce))} rec/s   runs: ${drainDirectOnce.map(fmt).join(', ')}   ` +
          `drain/that ${(median(drain) / median(drainDirectOnce)).toFixed(2)}x; the headers' cost: ${(median(drainDirectOnce) / median(drainDirect)).toFixed(2)}x of plain direct`,
      );
      const us = (c: { node: number[]; servers: number[] }): string => `${median(c.node).toFixed(2)} + ${median(c.servers).toFixed(2)}`;
      console.log(
        `  CPU µs per record, this process + the three nats-servers: appends alone ${us(cpu.alone)}; forward in-process ${us(cpu.forward)}; ` +
          `direct ${us(cpu.direct)}; drain ${us(cpu.drain)}`,
      );
      const lat = await fresh(() => latencyRun(servers, size, 20_000, 3));
      console.log(
        `  append → JetStream ack at 20,000 rec/s: p50 ${(lat.p50 / 1000).toFixed(1)} ms, p99 ${(lat.p99 / 1000).toFixed(1)} ms (${fmt(lat.count)} records)`,
      );
    }
    console.log('\ndirect publish sweep, 100 B records, 200,000 per cell: records/s by batch size and publishes in flight');
    const data = records(200_000, 100);
    const maxBatch = Math.floor(((nc.info?.max_payload ?? 1048576) - BATCH_HEADER_RESERVE) / encodedRecordSize(100));
    for (const batch of [1, 16, 256, 1024, maxBatch]) {
      const slice = batch === 1 ? data.slice(0, 10_000) : data;
      const one = await fresh(() => directRun(nc, slice, batch, 1));
      const sixteen = await fresh(() => directRun(nc, slice, batch, 16));
      console.log(`  batch ${String(batch).padStart(5)}: 1 in flight ${fmt(one).padStart(10)}   16 in flight ${fmt(sixteen).padStart(10)}`);
    }
  } finally {
    await nc.close();
    await servers.stop();
  }
}

/**
 * With a base tree: the forwarder's own rate, this tree against the base, alternating pairs on a
 * fresh stream each: drain, in-process forward (with producers) and the sidecar, per record size.
 */
async function abMain(baseTree: string): Promise<void> {
  const base = await loadTree(baseTree);
  const { servers, nc, fresh } = await startBench();
  console.log(`A/B: this tree against ${base.name}; ${RUNS} alternating pairs; load ${os.loadavg()[0]!.toFixed(1)}`);
  const trees = [THIS, base];
  try {
    for (const [size, n] of [
      [100, 400_000],
      [1024, 100_000],
    ] as const) {
      const data = records(n, size);
      const rows: Record<string, number[][]> = {
        drain: [[], []],
        'forward in-process': [[], []],
        'producers with it': [[], []],
        sidecar: [[], []],
      };
      for (let r = 0; r < RUNS; r++) {
        for (let k = 0; k < 2; k++) {
          const t = (k + r) % 2;
          const impl = trees[t]!;
          rows['drain']![t]!.push((await fresh(() => drainRun(servers, data, impl))).rate);
          const f = await fresh(() => forwardRun(servers, data, impl));
          rows['forward in-process']![t]!.push(f.rate);
          rows['producers with it']![t]!.push(f.appendRate);
          rows['sidecar']![t]!.push((await fresh(() => sidecarRun(servers, nc, data, impl))).rate);
        }
      }
      console.log(`\n${size} B records, ${fmt(n)} per run`);
      for (const [name, [a, b]] of Object.entries(rows)) {
        const q = a!.map((x, i) => x / b![i]!);
        console.log(
          `  ${name.padEnd(20)} this ${fmt(median(a!)).padStart(9)} rec/s  base ${fmt(median(b!)).padStart(9)} rec/s  this/base ${median(q).toFixed(2)}x (per pair ${q.map((x) => x.toFixed(2)).join(' ')})`,
        );
      }
    }
  } finally {
    await nc.close();
    await servers.stop();
  }
}

void (BASE_TREE === undefined ? main() : abMain(BASE_TREE)).catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
