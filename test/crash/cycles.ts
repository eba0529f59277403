/**
 * The kill -9 harness: runs child.ts against a directory, SIGKILLs it at a random moment
 * (usually while it appends; sometimes while it is still recovering from the previous kill),
 * then recovers the directory in this process and checks:
 *   - every record the child acknowledged is present and intact;
 *   - records are exactly 1..n (gap-free, in order, nothing garbled or unknown);
 *   - the next child recovers the same n (recovery is stable).
 * A directory accumulates records over many cycles (so cuts, repairs and reopen-after-repair
 * compound) and is started afresh every `cyclesPerDir` cycles.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { WAL } from '../../src/etcd/wal';
import { isWalError, WalErrorCodes } from '../../src/errors';
import { resolveNativeAddonPath } from '../../src/io/native';
import { Log } from '../../src/log/log';
import type { Preallocation } from '../../src/log/options';
import { readLevelDBLog } from '../../src/leveldb/reader';
import { prng } from '../support/prng';
import { isPayload, indexOfPayload } from './payload';

export type CrashFormat = 'etcd' | 'log' | 'leveldb';

export interface CycleOptions {
  format: CrashFormat;
  /** Scratch directory for the data directories and the child bundle. */
  scratch: string;
  cycles: number;
  /** Stop early (successfully) once this many ms have passed. */
  timeLimitMs?: number;
  /** Environment for the children (WAL_NATIVE...). */
  env?: NodeJS.ProcessEnv;
  seed?: number;
  cyclesPerDir?: number;
  /** Log lines. */
  log?: (line: string) => void;
}

export interface CycleResult {
  cycles: number;
  /** Kills that landed before the child finished recovering. */
  killedDuringRecovery: number;
  /** Records acknowledged in total, and the largest directory reached (records). */
  acknowledged: number;
  maxRecords: number;
  /** Cycles whose directory held more than one segment (etcd/Log), i.e. cuts happened. */
  withCuts: number;
}

/** Segment sizes and preallocation modes the cycles rotate through (small: frequent cuts; 1 MB: kills mid-preallocation). */
const SETUPS: Array<{ segmentSize: number; preallocation: Preallocation }> = [
  { segmentSize: 4096, preallocation: 'zero-fill' },
  { segmentSize: 16384, preallocation: 'fallocate' },
  { segmentSize: 1 << 20, preallocation: 'zero-fill' },
  { segmentSize: 8192, preallocation: 'fallocate' },
];

const childCommands = new Map<string, { cmd: string; args: string[]; env: NodeJS.ProcessEnv }>();

/**
 * How to start a child script (`entry`, a file in this folder): a bundle built once with esbuild
 * (node starts it in ~50 ms; tsx takes ~200 ms), or tsx when esbuild is not installed. The bundle
 * loads the addon from the path this process resolved (WAL_NATIVE_PATH), since its own location is
 * not the package root.
 */
export async function childStarter(
  scratch: string,
  entryName = 'child.ts',
): Promise<{ cmd: string; args: string[]; env: NodeJS.ProcessEnv }> {
  const known = childCommands.get(entryName);
  if (known !== undefined) return known;
  const entry = path.join(__dirname, entryName);
  const env: NodeJS.ProcessEnv = {};
  let command: { cmd: string; args: string[]; env: NodeJS.ProcessEnv };
  try {
    const esbuild = require('esbuild') as typeof import('esbuild');
    const outfile = path.join(scratch, entryName.replace(/\.ts$/, '.bundle.js'));
    await esbuild.build({
      entryPoints: [entry],
      bundle: true,
      platform: 'node',
      format: 'cjs',
      outfile,
      external: ['node-gyp-build'],
      logLevel: 'silent',
    });
    if (process.env['WAL_NATIVE'] !== '0') {
      try {
        env['WAL_NATIVE_PATH'] = resolveNativeAddonPath();
      } catch {
        // no addon: the child reports it as the parent would (WAL_NATIVE=1) or falls back
      }
    }
    command = { cmd: process.execPath, args: [outfile], env };
  } catch {
    command = { cmd: process.execPath, args: ['--import', 'tsx', entry], env };
  }
  childCommands.set(entryName, command);
  return command;
}

interface ChildRun {
  recovered: number | null;
  acked: number;
  error: string | null;
  exitedAlone: boolean;
}

function runChild(
  starter: { cmd: string; args: string[]; env: NodeJS.ProcessEnv },
  childArgs: string[],
  env: NodeJS.ProcessEnv,
  killAfterReadyMs: number,
  killAfterStartMs: number | null,
): Promise<ChildRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(starter.cmd, [...starter.args, ...childArgs], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, ...env, ...starter.env },
    });
    const run: ChildRun = { recovered: null, acked: 0, error: null, exitedAlone: true };
    let buf = '';
    let stderr = '';
    let killed = false;
    const kill = (): void => {
      if (killed) return;
      killed = true;
      run.exitedAlone = false;
      child.kill('SIGKILL');
    };
    let timer: NodeJS.Timeout | null = killAfterStartMs !== null ? setTimeout(kill, killAfterStartMs) : null;
    const watchdog = setTimeout(() => {
      run.error = run.error ?? 'child hung (no progress for 20 s)';
      kill();
    }, 20_000);
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      buf += chunk;
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        if (line.startsWith('A ')) run.acked = Math.max(run.acked, Number(line.slice(2)));
        else if (line.startsWith('R ')) {
          run.recovered = Number(line.slice(2));
          if (timer === null) timer = setTimeout(kill, killAfterReadyMs);
        } else if (line.startsWith('E ')) run.error = line.slice(2);
      }
    });
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (c: string) => (stderr += c));
    child.on('error', reject);
    child.on('exit', () => {
      if (timer !== null) clearTimeout(timer);
      clearTimeout(watchdog);
      if (run.exitedAlone && run.error === null) run.error = `child exited on its own: ${stderr.slice(-2000)}`;
      resolve(run);
    });
  });
}

/** Recovers `dir` as the library documents and returns the number of records, checking each one. */
async function verify(
  format: CrashFormat,
  dir: string,
  seed: number,
  segmentSize: number,
  preallocation: Preallocation,
): Promise<{ n: number; segments: number }> {
  if (format === 'etcd') {
    if (!(await WAL.exist(dir))) return { n: 0, segments: 0 };
    const opts = { segmentSizeBytes: segmentSize };
    let w = await WAL.open(dir, { index: 0n, term: 0n }, opts);
    let entries;
    try {
      entries = (await w.readAll()).entries;
    } catch (err) {
      await w.close();
      if (!isWalError(err, WalErrorCodes.UNEXPECTED_EOF)) throw err;
      if (!(await WAL.repair(dir, opts))) throw new Error('etcd repair returned false for a torn tail');
      w = await WAL.open(dir, { index: 0n, term: 0n }, opts);
      entries = (await w.readAll()).entries;
    }
    await w.close();
    entries.forEach((e, k) => {
      if (e.index !== BigInt(k + 1)) throw new Error(`entry ${k} has index ${e.index}: not gap-free`);
      if (e.data === null || !isPayload(e.data, k + 1, seed)) throw new Error(`entry ${k + 1} garbled`);
    });
    return { n: entries.length, segments: fs.readdirSync(dir).filter((f) => f.endsWith('.wal')).length };
  }
  if (format === 'log') {
    if (!fs.existsSync(dir) || !fs.readdirSync(dir).some((f) => f.endsWith('.wal'))) return { n: 0, segments: 0 };
    const log = await Log.open(dir, { segmentSize, preallocation, mustExist: true });
    let n = 0;
    try {
      for await (const e of log.entries()) {
        n++;
        if (e.index !== BigInt(n)) throw new Error(`record ${n} has index ${e.index}: not gap-free`);
        if (!isPayload(e.data, n, seed)) throw new Error(`record ${n} garbled`);
      }
      if (log.lastIndex !== BigInt(n)) throw new Error(`lastIndex ${log.lastIndex} but ${n} records read`);
    } finally {
      await log.close();
    }
    return { n, segments: fs.readdirSync(dir).filter((f) => f.endsWith('.wal')).length };
  }
  const file = path.join(dir, '000003.log');
  if (!fs.existsSync(file)) return { n: 0, segments: 0 };
  let n = 0;
  const reports: string[] = [];
  for await (const { data } of readLevelDBLog(file, { onCorruption: (c) => reports.push(`${c.reason} at ${c.offset}`) })) {
    n++;
    if (indexOfPayload(data) !== n) throw new Error(`record ${n} holds index ${indexOfPayload(data)}: not gap-free`);
    if (!isPayload(data, n, seed)) throw new Error(`record ${n} garbled`);
  }
  // A process kill loses no written byte: at most the last record is incomplete, which LevelDB
  // reads silently as the end. Anything reported is damage.
  if (reports.length > 0) throw new Error(`corruption reported after a process kill: ${reports.join('; ')}`);
  return { n, segments: 1 };
}

/** Runs kill cycles for one format; throws on the first violated invariant. */
export async function runCrashCycles(opts: CycleOptions): Promise<CycleResult> {
  const starter = await childStarter(opts.scratch);
  const seed0 = opts.seed ?? 1;
  const perDir = opts.cyclesPerDir ?? 6;
  const started = Date.now();
  const result: CycleResult = { cycles: 0, killedDuringRecovery: 0, acknowledged: 0, maxRecords: 0, withCuts: 0 };
  let dir = '';
  let seed = 0;
  let setup = SETUPS[0]!;
  let known = 0; // records verified after the previous cycle
  const random = prng(seed0);
  for (let c = 0; c < opts.cycles; c++) {
    if (opts.timeLimitMs !== undefined && Date.now() - started > opts.timeLimitMs) break;
    if (c % perDir === 0) {
      seed = seed0 * 1000 + c;
      setup = SETUPS[(c / perDir) % SETUPS.length]!;
      dir = path.join(opts.scratch, `${opts.format}-${seed}`);
      fs.rmSync(dir, { recursive: true, force: true });
      known = 0;
    }
    // Mostly kill while appending (0-60 ms after recovery: on a memory filesystem the child acks
    // hundreds of records in that time); sometimes at a random moment from spawn, which can land
    // inside recovery or repair.
    const early = random() < 0.15;
    const run = await runChild(
      starter,
      [opts.format, dir, String(seed), String(setup.segmentSize), setup.preallocation],
      opts.env ?? {},
      Math.floor(random() * 60),
      early ? Math.floor(random() * 200) : null,
    );
    const where = `${opts.format} cycle ${c} (dir ${dir}, segment ${setup.segmentSize} ${setup.preallocation})`;
    if (run.error !== null) throw new Error(`${where}: child failed: ${run.error}`);
    if (run.recovered === null) result.killedDuringRecovery++;
    else if (run.recovered !== known)
      throw new Error(`${where}: child recovered ${run.recovered} records, the parent had verified ${known}`);
    let v;
    try {
      v = await verify(opts.format, dir, seed, setup.segmentSize, setup.preallocation);
    } catch (err) {
      throw new Error(`${where}: recovery check failed: ${(err as Error)?.stack ?? String(err)}`);
    }
    if (v.n < run.acked) throw new Error(`${where}: lost acknowledged records: ${run.acked} acknowledged, ${v.n} recovered`);
    if (v.n < known) throw new Error(`${where}: records verified earlier disappeared: ${known} before, ${v.n} now`);
    result.acknowledged += Math.max(0, run.acked - known);
    known = v.n;
    result.maxRecords = Math.max(result.maxRecords, v.n);
    if (v.segments > 1) result.withCuts++;
    result.cycles++;
    opts.log?.(
      `${where}: acked ${run.acked}, recovered ${v.n}, segments ${v.segments}${run.recovered === null ? ' (killed during recovery)' : ''}`,
    );
  }
  return result;
}
