/**
 * Live readers on the producers' event loop, this tree against another (e.g. a worktree of main),
 * alternating in ONE process so both see the same machine: 256 producers × 100 B append for S
 * seconds with no reader, with one `tail()` follower, with one `tailBatches()` follower (a batch
 * per step) and with one in-process consumer committing each batch. Reports producer rates, same-run ratios, and each reader's latency from the append
 * call (the record carries its send time) and from the moment it became durable (the 'fsync'
 * event that advanced durableIndex past it).
 *
 *   node --import tsx bench/follower.bench.ts [runs=5] [seconds=3] [baseTree]
 * baseTree: a checkout whose src/log/log.ts is the "before" (default: none). This tree runs twice:
 * with the default window of recent records and with recentRecordsBytes 0.
 * Serialise timed runs: flock /tmp/bench.lock node --import tsx bench/follower.bench.ts 5 3 /work/base
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { Log as ThisLog } from '../src/log/log';
import { consumeLive, fmt, median, now, pct, produce, record, sentAt } from './timed-producers';

interface LogLike {
  append(d: Uint8Array): Promise<bigint>;
  tail(o?: { from?: bigint }): AsyncGenerator<{ index: bigint; data: Uint8Array }>;
  /** Not in trees before it was added. */
  tailBatches?(o?: { from?: bigint }): AsyncGenerator<{ index: bigint; data: Uint8Array }[]>;
  consumer(name: string, o?: { start?: 'newest' }): Promise<ConsumerLike>;
  on(ev: 'fsync', f: () => void): unknown;
  readonly durableIndex: bigint;
  close(): Promise<void>;
}
interface ConsumerLike {
  read(o: { maxRecords: number; timeoutMs: number }): Promise<{ index: bigint; data: Uint8Array }[]>;
  commit(i: bigint): Promise<void>;
  close(): Promise<void>;
}
interface LogClass {
  open(dir: string, o?: Record<string, unknown>): Promise<LogLike>;
}

const ms = (n: number): string => n.toFixed(2);

type Reader = 'none' | 'follower' | 'batch follower' | 'consumer';

interface Sample {
  rate: number;
  /** append call -> reader saw it (ms), every 16th record. */
  fromAppend: number[];
  /** became durable -> reader saw it (ms). */
  fromDurable: number[];
}

async function once(Log: LogClass, opts: Record<string, unknown>, reader: Reader, seconds: number): Promise<Sample> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nodewal-follow-'));
  const fromAppend: number[] = [];
  const fromDurable: number[] = [];
  // Durable index after each fsync event and when it happened: a record's durable moment.
  const durIdx: number[] = [];
  const durAt: number[] = [];
  const seen: { index: number; at: number }[] = [];
  try {
    const log = await Log.open(dir, opts);
    if (reader === 'batch follower' && typeof log.tailBatches !== 'function') {
      await log.close();
      return { rate: Number.NaN, fromAppend: [], fromDurable: [] }; // a tree from before tailBatches
    }
    log.on('fsync', () => {
      durIdx.push(Number(log.durableIndex));
      durAt.push(now());
    });
    let stop = false;
    let done: Promise<void> = Promise.resolve();
    const see = (index: bigint, data: Uint8Array, t: number): void => {
      fromAppend.push(t - sentAt(data));
      seen.push({ index: Number(index), at: t });
    };
    if (reader === 'follower') {
      const it = log.tail();
      done = (async () => {
        let k = 0;
        for await (const e of it) {
          if ((k++ & 15) === 0) see(e.index, e.data, now());
          if (stop) break;
        }
      })();
    } else if (reader === 'batch follower') {
      const it = log.tailBatches!();
      done = (async () => {
        let k = 0;
        for await (const batch of it) {
          const t = now();
          for (const e of batch) if ((k++ & 15) === 0) see(e.index, e.data, t);
          if (stop) break;
        }
      })();
    } else if (reader === 'consumer') {
      const c = await log.consumer('live', { start: 'newest' });
      done = (async () => {
        await consumeLive(
          c,
          () => stop,
          (e, t) => see(e.index, e.data, t),
        );
        await c.close();
      })();
    }
    const rate = await produce((d) => log.append(d), seconds);
    stop = true;
    if (reader === 'follower' || reader === 'batch follower') await log.append(record(100)); // lets the follower see `stop`
    await done;
    await log.close();
    // Durable moment of each seen record: the first fsync event whose durable index covers it.
    let j = 0;
    for (const s of seen) {
      while (j < durIdx.length && durIdx[j]! < s.index) j++;
      if (j < durIdx.length) fromDurable.push(s.at - durAt[j]!);
    }
    return { rate, fromAppend, fromDurable };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const runs = Number(process.argv[2] ?? 5);
  const seconds = Number(process.argv[3] ?? 3);
  const baseTree = process.argv[4];
  const trees: { name: string; Log: LogClass; opts: Record<string, unknown> }[] = [];
  if (baseTree !== undefined) {
    const m = (await import(pathToFileURL(path.resolve(baseTree, 'src/log/log.ts')).href)) as { Log: LogClass };
    trees.push({ name: `base (${baseTree})`, Log: m.Log, opts: {} });
  }
  trees.push({ name: 'this tree', Log: ThisLog as unknown as LogClass, opts: {} });
  // The same code without the window: what keeping it costs the producers, and the disk path.
  trees.push({ name: 'this tree, recentRecordsBytes 0', Log: ThisLog as unknown as LogClass, opts: { recentRecordsBytes: 0 } });
  // A base tree without tailBatches runs its readers but that one.
  const readers: Reader[] = ['none', 'follower', 'batch follower', 'consumer'];
  const got = trees.map(() => readers.map(() => [] as Sample[]));
  for (let run = 0; run < runs; run++) {
    for (let r = 0; r < readers.length; r++) {
      // Each run in another order, so no contender always follows the same one.
      for (let k = 0; k < trees.length; k++) {
        const t = (k + run) % trees.length;
        got[t]![r]!.push(await once(trees[t]!.Log, trees[t]!.opts, readers[r]!, seconds));
      }
    }
  }
  console.log(
    `256 producers × 100 B, ${runs} alternating runs of ${seconds} s, load ${os
      .loadavg()
      .map((l) => l.toFixed(1))
      .join(' ')}`,
  );
  trees.forEach((tree, t) => {
    const base = got[t]![0]!.map((s) => s.rate);
    console.log(`${tree.name}: no reader ${fmt(median(base))} rec/s (runs ${base.map(fmt).join(', ')})`);
    for (let r = 1; r < readers.length; r++) {
      const ss = got[t]![r]!;
      const rates = ss.map((s) => s.rate);
      const ratios = rates.map((x, k) => x / base[k]!);
      const lats = (f: (s: Sample) => number[], p: number): string =>
        ss.map((s) => ms(pct(f(s), p))).join('/') + ` (median ${ms(median(ss.map((s) => pct(f(s), p))))})`;
      console.log(
        `  with one ${readers[r]}: ${fmt(median(rates))} rec/s = ${median(ratios).toFixed(2)}× median of per-run ratios (${ratios.map((x) => x.toFixed(2)).join(' ')})`,
      );
      console.log(`    durable→seen ms p50 ${lats((s) => s.fromDurable, 50)}, p99 ${lats((s) => s.fromDurable, 99)}`);
      console.log(`    append→seen  ms p50 ${lats((s) => s.fromAppend, 50)}, p99 ${lats((s) => s.fromAppend, 99)}`);
    }
  });
  for (let t = 1; t < trees.length; t++) {
    for (let r = 0; r < readers.length; r++) {
      const a = got[0]![r]!.map((s) => s.rate);
      const b = got[t]![r]!.map((s) => s.rate);
      const q = b.map((x, k) => x / a[k]!);
      console.log(
        `${trees[t]!.name} / ${trees[0]!.name}, ${readers[r]}: ${median(q).toFixed(2)}× (per run ${q.map((x) => x.toFixed(2)).join(' ')})`,
      );
    }
  }
}

void main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
