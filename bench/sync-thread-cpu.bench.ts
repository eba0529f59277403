/**
 * What the sync thread's spin costs and buys (issue 15): CPU per durable append at 1 producer next
 * to a plain write+fdatasync loop, and throughput at 256 producers, for two addon builds in the
 * same run, and next to the same loop on fs.promises (the event loop kept free, as Log keeps it).
 * Each cell runs in a fresh child process with WAL_NATIVE_PATH set to one build; cells
 * take turns (round-robin) so that disk noise from other jobs hits every build alike.
 * CPU is process CPU (user + system, all threads) over the timed loop only, divided by appends.
 *
 *   node --import tsx bench/sync-thread-cpu.bench.ts <seconds> <repeats> <name=addon.node>...
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Log as SourceLog } from '../src/log/log';

/** BENCH_LOG_MODULE=dist/log/log.js: the compiled package's Log, as users run it (no tsx per-call costs). */
const Log: typeof SourceLog = process.env.BENCH_LOG_MODULE
  ? (require(path.resolve(process.env.BENCH_LOG_MODULE)) as { Log: typeof SourceLog }).Log
  : SourceLog;

interface Cell {
  appends: number;
  seconds: number;
  cpuMicros: number;
}

const RECORD = 100;

async function timed(run: (until: bigint) => Promise<number>, seconds: number): Promise<Cell> {
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  const appends = await run(t0 + BigInt(Math.round(seconds * 1e9)));
  const elapsed = Number(process.hrtime.bigint() - t0) / 1e9;
  const cpu = process.cpuUsage(cpu0);
  return { appends, seconds: elapsed, cpuMicros: cpu.user + cpu.system };
}

async function child(mode: string, seconds: number): Promise<Cell> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nodewal-spin-'));
  try {
    const data = Buffer.alloc(RECORD, 0x61);
    if (mode === 'plain') {
      // The floor: one 100 B write + fdatasync at a time into zero-filled space (as Log's prepared segments).
      const file = path.join(dir, 'plain');
      const fd = fs.openSync(file, 'w+', 0o600);
      fs.writeSync(fd, Buffer.alloc(16 << 20));
      fs.fdatasyncSync(fd);
      const cell = await timed(async (until) => {
        let n = 0;
        while (process.hrtime.bigint() < until) {
          fs.writeSync(fd, data, 0, RECORD, (n * RECORD) % (16 << 20));
          fs.fdatasyncSync(fd);
          n++;
        }
        return n;
      }, seconds);
      fs.closeSync(fd);
      return cell;
    }
    if (mode === 'plain-async') {
      // What a Node user writes without a library: the same write + fdatasync, awaited on
      // fs.promises (libuv's threadpool), so the event loop stays free as Log keeps it.
      const file = path.join(dir, 'plain-async');
      const fd = fs.openSync(file, 'w+', 0o600);
      fs.writeSync(fd, Buffer.alloc(16 << 20));
      fs.fdatasyncSync(fd);
      fs.closeSync(fd);
      const handle = await fs.promises.open(file, 'r+');
      const cell = await timed(async (until) => {
        let n = 0;
        while (process.hrtime.bigint() < until) {
          await handle.write(data, 0, RECORD, (n * RECORD) % (16 << 20));
          await handle.datasync();
          n++;
        }
        return n;
      }, seconds);
      await handle.close();
      return cell;
    }
    const producers = mode === 'log1' ? 1 : 256;
    const log = await Log.open(dir);
    const cell = await timed(async (until) => {
      let n = 0;
      const producer = async (): Promise<void> => {
        while (process.hrtime.bigint() < until) {
          await log.append(data);
          n++;
        }
      };
      await Promise.all(Array.from({ length: producers }, producer));
      return n;
    }, seconds);
    await log.close();
    return cell;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  if (argv[0] === '--child') {
    process.stdout.write(JSON.stringify(await child(argv[1]!, Number(argv[2]))));
    return;
  }
  const seconds = Number(argv[0] ?? 2);
  const repeats = Number(argv[1] ?? 5);
  const builds = argv.slice(2).map((a) => {
    const [name, file] = a.split('=') as [string, string];
    return { name, file: path.resolve(file) };
  });
  const cells = [
    { build: 'plain', mode: 'plain', file: '' },
    { build: 'plain', mode: 'plain-async', file: '' },
  ];
  for (const b of builds) for (const mode of ['log1', 'log256']) cells.push({ build: b.name, mode, file: b.file });
  const results = new Map<string, Cell[]>();
  for (let r = 0; r < repeats; r++) {
    for (const c of cells) {
      const env = { ...process.env, WAL_NATIVE: '1', ...(c.file ? { WAL_NATIVE_PATH: c.file } : {}) };
      const out = spawnSync(process.execPath, ['--import', 'tsx', __filename, '--child', c.mode, String(seconds)], {
        env,
        encoding: 'utf8',
      });
      if (out.status !== 0) throw new Error(`${c.build} ${c.mode}: ${out.stderr}`);
      const key = `${c.build} ${c.mode}`;
      results.set(key, [...(results.get(key) ?? []), JSON.parse(out.stdout) as Cell]);
    }
  }
  const plainCpu = median(results.get('plain plain')!.map((c) => c.cpuMicros / c.appends));
  console.log(`${seconds} s per cell, medians of ${repeats}, ${os.cpus().length} CPUs, node ${process.version}`);
  console.log('| build | producers | appends/s | CPU µs/append | vs plain loop CPU | CPU % of one core |');
  console.log('|---|---:|---:|---:|---:|---:|');
  for (const [key, runs] of results) {
    const [build, mode] = key.split(' ') as [string, string];
    const rate = median(runs.map((c) => c.appends / c.seconds));
    const cpu = median(runs.map((c) => c.cpuMicros / c.appends));
    const load = median(runs.map((c) => c.cpuMicros / 1e4 / c.seconds));
    const producers = mode === 'log256' ? 256 : 1;
    console.log(
      `| ${mode === 'plain-async' ? 'plain on fs.promises' : build} | ${producers} | ${Math.round(rate).toLocaleString('en')} | ${cpu.toFixed(1)} | ${(cpu / plainCpu).toFixed(2)} | ${load.toFixed(0)} |`,
    );
  }
}

void main();
