/**
 * `wal verify PATH`: checks everything (framing, every CRC and the CRC chain, payload decoding,
 * metadata, index continuity, snapshot, LevelDB reports including what LevelDB drops silently)
 * without modifying anything. Prints a summary and the exact location of the first problem.
 */
import * as path from 'node:path';
import { COMMON_OPTIONS, UsageError, onePath, parseSnapshot } from '../args';
import type { Command, Context } from '../command';
import { EXIT } from '../command';
import { detect } from '../detect';
import { type Problem, scanEtcd } from '../etcd-scan';
import { holdsWriteBatches, scanLevelDB } from '../leveldb-scan';
import { WalErrorCodes } from '../../errors';
import { count, formatBytes } from '../output';
import { Progress } from '../progress';
import { problemJson, problemText } from '../render-problem';

export const verify: Command = {
  name: 'verify',
  help: `Usage: wal verify PATH [options]

Reads the whole WAL or log and checks: frame lengths, every record's CRC and (etcd) the CRC chain
across segments, that every payload decodes, metadata consistency, entry index continuity,
missing segments, and (with --snapshot) that the snapshot record exists with the right term.
LevelDB logs are read exactly as LevelDB 1.23 reads them, and what LevelDB would drop silently
(a torn final write, zero-filled blocks) is reported too. Nothing is modified.

Prints a summary and the first problem with its file, byte offset and error code; a torn tail
is marked repairable ('wal repair PATH').

Options:
  --json              one JSON object per line: kind "problem" for each problem, then "summary"
  --snapshot I:T      etcd: verify as OpenForRead at snapshot index I, term T
  --raw               LevelDB: show payloads as bytes, do not decode them as WriteBatches
  --format F          etcd | leveldb | auto (default auto)
  --no-color          no colours (NO_COLOR is honoured too)
  -h, --help          this help

Exit status: 0 healthy, 1 corrupt (or unreadable), 2 usage error.`,
  options: { ...COMMON_OPTIONS, raw: { type: 'boolean' }, snapshot: { type: 'string' } },
  async run({ options, positionals }, ctx) {
    const target = detect(onePath('verify', positionals), options['format'] as string | undefined);
    const raw = options['raw'] === true;
    const { out } = ctx;
    const progress = new Progress('verify', 0, { json: out.json });
    let problems: Problem[];
    let summary: Record<string, unknown>;
    let line: string;
    if (target.format === 'etcd') {
      const snapshot = options['snapshot'] !== undefined ? parseSnapshot(options['snapshot'] as string) : undefined;
      const res = await scanEtcd(target, { snapshot, onProgress: (d, t) => progress.update(d, t) });
      progress.done();
      problems = res.problems;
      const range = res.firstEntry === null ? 'no entries' : `entries ${res.firstEntry}..${res.lastEntry}`;
      line =
        `etcd WAL ${target.single ? target.segments[0] : target.dir}: ${count(res.segments.length, 'segment')}, ${formatBytes(res.bytesTotal)}, ` +
        `${count(res.records, 'record')} (${count(res.entries, 'entry', 'entries')}, ${range}; ${count(res.byType['hardstate'] ?? 0, 'hard state')}, ` +
        `${count(res.snapshots.length, 'snapshot')})`;
      summary = {
        kind: 'summary',
        format: 'etcd',
        path: target.single ? target.segments[0] : target.dir,
        segments: res.segments.length,
        bytes: res.bytesTotal,
        records: res.records,
        entries: res.entries,
        firstIndex: res.firstEntry,
        lastIndex: res.lastEntry,
        snapshots: res.snapshots.length,
        snapshotFound: res.snapshotFound,
      };
    } else {
      if (options['snapshot'] !== undefined) throw new UsageError('--snapshot applies to etcd WALs only');
      problems = [];
      let records = 0;
      let bytes = 0;
      let ops = 0;
      for (const file of target.files) {
        const res = await scanLevelDB(file, {
          batches: !raw && (await holdsWriteBatches(file)),
          onProgress: (d, t) => progress.update(d, t),
        });
        progress.done();
        problems.push(...res.problems);
        records += res.records;
        bytes += res.size;
        ops += res.puts + res.deletes;
      }
      const name = target.files.length === 1 ? target.files[0]! : `${path.dirname(target.files[0]!)} (${target.files.length} logs)`;
      line = `LevelDB log ${name}: ${formatBytes(bytes)}, ${count(records, 'record')}, ${count(ops, 'operation')}`;
      summary = { kind: 'summary', format: 'leveldb', files: target.files.map((f) => path.basename(f)), bytes, records, operations: ops };
    }
    report(ctx, line, problems);
    out.record({
      ...summary,
      healthy: problems.length === 0,
      problems: problems.length,
      firstProblem: problems[0] ? problemJson(problems[0]) : null,
    });
    return problems.length === 0 ? EXIT.OK : EXIT.PROBLEM;
  },
};

/** Problems that say the --snapshot argument does not fit the WAL, not that the WAL is damaged. */
const ARGUMENT_PROBLEMS = new Set<string>([
  WalErrorCodes.SNAPSHOT_NOT_FOUND,
  WalErrorCodes.SNAPSHOT_MISMATCH,
  WalErrorCodes.FILE_NOT_FOUND,
]);

function report(ctx: Context, line: string, problems: Problem[]): void {
  const { out } = ctx;
  out.line(line);
  for (const p of problems) out.record(problemJson(p));
  if (problems.length === 0) {
    out.line(out.paint('green', 'OK: no problems found'));
    return;
  }
  const first = problems[0]!;
  if (problems.every((p) => ARGUMENT_PROBLEMS.has(p.code))) {
    // The WAL was not found damaged: the --snapshot asked for does not match what it holds.
    out.line(`${out.paint('red', 'SNAPSHOT NOT USABLE')}: ${problemText(first, out)}`);
    out.line(`  the files were not found damaged; 'wal stat' lists the snapshots this WAL holds (index:term)`);
    return;
  }
  out.line(`${out.paint('red', 'CORRUPT')}: first problem: ${problemText(first, out)}`);
  if (first.repairable) out.line(`  this is a torn or truncated tail: 'wal repair' cuts it off (keeping a backup)`);
  if (problems.length > 1) out.line(`  ${count(problems.length - 1, 'more problem', 'more problems')}:`);
  for (const p of problems.slice(1, 11)) out.line(`    ${problemText(p, out)}`);
  if (problems.length > 11) out.line(`    ... ${problems.length - 11} more (use --json for all)`);
}
