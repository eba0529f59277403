/**
 * `wal bench`: the project's main job on an embedded default. Durable ingestion with `Log` by
 * concurrent producers into a temporary directory, then recovery (reopen, read everything back,
 * check every byte), on the backend this process loaded — and the same in a child process on the
 * other backend (WAL_NATIVE=0 / 1), so native and fallback are compared on one screen.
 */
import { spawnSync } from 'node:child_process';
import * as os from 'node:os';
import { COMMON_OPTIONS, UsageError } from '../args';
import type { Command, Context } from '../command';
import { EXIT } from '../command';
import { type BenchResult, defaultParent, runBench } from '../bench/run';
import { count, formatBytes, grouped, toJson } from '../output';
import { Progress } from '../progress';
import { defaultBackend } from '../../io/backend';

const DEFAULTS = { records: 200_000, size: 256, producers: 32 };

export const bench: Command = {
  name: 'bench',
  help: `Usage: wal bench [options]

Measures what this library is for. Several producers append records concurrently to a Log in a
temporary directory; every append resolves only once its record is on disk (fdatasync), so group
commit is what makes it fast. Then recovery: the log is reopened, every record is read back and
checked byte for byte (each exactly once, in each producer's order, at the index its append
returned), and the directory is checked as an etcd WAL. The same run then repeats in a child
process on the other I/O backend (WAL_NATIVE=0 for the JavaScript fallback, or =1).

Prints records/s, MB/s, fsyncs/s, records per fsync, append latency p50/p99/max (call to durable),
fdatasync latency, recovery time and throughput, for native and fallback side by side.

Options:
  --records N         records to append (default ${grouped(DEFAULTS.records)}; 100k and 2m are accepted)
  --size BYTES        bytes per record (default ${DEFAULTS.size}, minimum 8)
  --producers N       concurrent producers (default ${DEFAULTS.producers})
  --dir DIR           where to create the temporary log directory (default: the OS temp dir);
                      put it on the disk you want to measure
  --keep              keep the log directory (its path is printed)
  --no-compare        run on this process's backend only
  --json              one JSON object per backend (kind "bench"), then "summary"
  --no-color          no colours (NO_COLOR is honoured too)
  -h, --help          this help

Exit status: 0 measured and verified, 1 a run failed or read back wrong data, 2 usage error.`,
  options: {
    ...COMMON_OPTIONS,
    records: { type: 'integer', min: 1 },
    size: { type: 'integer', min: 8 },
    producers: { type: 'integer', min: 1 },
    dir: { type: 'string' },
    keep: { type: 'boolean' },
    'no-compare': { type: 'boolean' },
    // Internal: run once and print the result as JSON (what the parent's child process does).
    child: { type: 'boolean' },
  },
  async run({ options, positionals }, ctx) {
    if (positionals.length > 0) throw new UsageError(`wal bench takes no PATH (got '${positionals[0]}'); use --dir`);
    if (options['format'] !== undefined) throw new UsageError('--format does not apply to wal bench');
    const records = (options['records'] as number | undefined) ?? DEFAULTS.records;
    const size = (options['size'] as number | undefined) ?? DEFAULTS.size;
    const producers = (options['producers'] as number | undefined) ?? DEFAULTS.producers;
    if (producers > records) throw new UsageError('--producers is larger than --records');
    const parent = (options['dir'] as string | undefined) ?? defaultParent();
    const keep = options['keep'] === true;
    const { out } = ctx;

    if (options['child'] === true) {
      const result = await runBench({ records, size, producers, parent, keep });
      process.stdout.write(`${toJson({ kind: 'bench', ...result })}\n`);
      return EXIT.OK;
    }

    out.line(
      `wal bench: ${grouped(records)} records x ${size} B from ${producers} concurrent producers, each append durable (fdatasync) before it resolves`,
    );
    out.line(out.paint('dim', `node ${process.version}, ${os.platform()} ${os.arch()}, ${os.cpus().length} CPU(s), log under ${parent}`));
    out.flush(); // the header first, then the progress bar
    const results: { label: string; result: BenchResult | null; error: string | null }[] = [];
    const progress = new Progress(`bench (${defaultBackend.kind})`, records, { json: out.json });
    try {
      const result = await runBench({ records, size, producers, parent, keep, onProgress: (d, t) => progress.update(d, t) });
      results.push({ label: result.backend, result, error: null });
    } catch (err) {
      results.push({ label: defaultBackend.kind, result: null, error: describe(err) });
    } finally {
      progress.done();
    }
    if (options['no-compare'] !== true) {
      const otherNative = defaultBackend.kind === 'native' ? '0' : '1';
      const label = otherNative === '0' ? 'fallback' : 'native';
      out.flush();
      if (!out.json) ctx.err(out.paint('dim', `running the ${label} backend in a child process (WAL_NATIVE=${otherNative})...`));
      results.push({ label, ...runChild(otherNative, { records, size, producers, parent, keep }) });
    }
    for (const r of results) {
      if (r.result) out.record({ kind: 'bench', ...r.result });
      else out.record({ kind: 'bench', backend: r.label, error: r.error });
    }
    printTable(ctx, results);
    const ok =
      results.every((r) => r.result !== null && r.result.etcdCheck.problems === 0) ||
      (results[0]?.result != null && results.slice(1).every((r) => r.error?.startsWith('unavailable')));
    out.record({
      kind: 'summary',
      ok,
      backends: results.map((r) => r.label),
      recordsPerSec: Object.fromEntries(results.filter((r) => r.result).map((r) => [r.label, Math.round(r.result!.ingest.recordsPerSec)])),
    });
    return ok ? EXIT.OK : EXIT.PROBLEM;
  },
};

function describe(err: unknown): string {
  const e = err as { code?: string; message?: string };
  return e?.code ? `${e.code}: ${e.message}` : String(e?.message ?? err);
}

/** Runs `wal bench --child` under the other backend and parses its one JSON line. */
function runChild(
  walNative: string,
  p: { records: number; size: number; producers: number; parent: string; keep: boolean },
): { result: BenchResult | null; error: string | null } {
  const args = [
    ...process.execArgv,
    process.argv[1]!,
    'bench',
    '--child',
    '--records',
    String(p.records),
    '--size',
    String(p.size),
    '--producers',
    String(p.producers),
    '--dir',
    p.parent,
    ...(p.keep ? ['--keep'] : []),
  ];
  const child = spawnSync(process.execPath, args, {
    env: { ...process.env, WAL_NATIVE: walNative },
    encoding: 'utf8',
    maxBuffer: 16 << 20,
  });
  if (child.status !== 0) {
    const text = `${child.stderr ?? ''}`.trim().split('\n').pop() ?? '';
    const unavailable = /ERR_WAL_NATIVE_UNAVAILABLE/.test(child.stderr ?? '');
    return { result: null, error: `${unavailable ? 'unavailable: ' : ''}child exited ${child.status}: ${text}` };
  }
  try {
    const line = child.stdout.trim().split('\n').pop()!;
    return { result: JSON.parse(line) as BenchResult, error: null };
  } catch {
    return { result: null, error: `child printed no result: ${child.stdout.slice(0, 200)}` };
  }
}

/** `1.35x (native faster)`: a ratio with the word that says which way it goes. */
function ratioText(r: number): string {
  const which = r >= 1.05 ? 'native faster' : r <= 0.95 ? 'fallback faster' : 'about the same';
  return `${r.toFixed(2)}x (${which})`;
}

function us(v: number): string {
  return v >= 10_000 ? `${(v / 1000).toFixed(1)} ms` : `${Math.round(v)} us`;
}

function printTable(ctx: Context, results: { label: string; result: BenchResult | null; error: string | null }[]): void {
  const { out } = ctx;
  const ok = results.filter((r) => r.result !== null) as { label: string; result: BenchResult }[];
  const rows: [string, (r: BenchResult) => string][] = [
    ['ingest records/s', (r) => grouped(r.ingest.recordsPerSec)],
    ['ingest MB/s (payload)', (r) => r.ingest.mbPerSec.toFixed(1)],
    ['fsyncs/s', (r) => grouped(r.ingest.fsyncsPerSec)],
    ['records per fsync', (r) => r.ingest.recordsPerFsync.toFixed(1)],
    ['append latency p50', (r) => us(r.ingest.latency.p50)],
    ['append latency p99', (r) => us(r.ingest.latency.p99)],
    ['append latency max', (r) => us(r.ingest.latency.max)],
    ['write+fdatasync p50', (r) => us(r.ingest.fsyncLatency.p50)],
    ['write+fdatasync p99', (r) => us(r.ingest.fsyncLatency.p99)],
    ['ingest time', (r) => `${r.ingest.seconds.toFixed(2)} s`],
    ['recovery: open', (r) => `${(r.recovery.openSeconds * 1000).toFixed(0)} ms`],
    ['recovery: open+read+check', (r) => `${r.recovery.seconds.toFixed(2)} s`],
    ['recovery records/s', (r) => grouped(r.recovery.recordsPerSec)],
    ['recovery MB/s', (r) => r.recovery.mbPerSec.toFixed(1)],
    ['records verified', (r) => grouped(r.recovery.verified)],
    // Entries, as in "records verified"; the WAL's other records (crc, metadata, snapshot) are told apart.
    [
      'etcd-format check',
      (r) => (r.etcdCheck.problems === 0 ? `OK, ${grouped(r.etcdCheck.entries)} entries` : count(r.etcdCheck.problems, 'problem')),
    ],
    ['on disk', (r) => formatBytes(r.bytesOnDisk)],
    ['CRC32C', (r) => r.crc],
  ];
  if (ok.length > 0) {
    const w = 26;
    out.line('');
    const col = 22; // room for "OK, 2,000,000 entries"
    out.line(`${''.padEnd(w)}${ok.map((r) => out.paint('bold', r.label.padStart(col))).join('')}`);
    for (const [name, f] of rows) out.line(`${name.padEnd(w)}${ok.map((r) => f(r.result).padStart(col)).join('')}`);
    const n = ok.find((r) => r.label === 'native');
    const fb = ok.find((r) => r.label === 'fallback');
    if (n && fb) {
      out.line('');
      const ingest = n.result.ingest.recordsPerSec / fb.result.ingest.recordsPerSec;
      const recovery = n.result.recovery.recordsPerSec / fb.result.recovery.recordsPerSec;
      out.line(`native / fallback, records/s of this run: ingest ${ratioText(ingest)}, recovery ${ratioText(recovery)}`);
      out.line(
        out.paint(
          'dim',
          '(>1: the native addon was faster. One run each, on whatever else this machine is doing: with small records ' +
            'both wait on fdatasync, and other jobs move either figure by tens of percent; `npm run bench` gives medians)',
        ),
      );
    }
    if (ok.some((r) => !r.result.ingest.direct)) out.line(out.paint('dim', 'buffered I/O (O_DIRECT off, the Log default)'));
  }
  for (const r of results) if (r.error) out.line(`${out.paint(r.error.startsWith('unavailable') ? 'yellow' : 'red', r.label)}: ${r.error}`);
}
