/** `wal dump PATH`: every record, decoded, with its location and CRC status. Read-only. */
import { readLogMeta } from '../log-meta';
import * as path from 'node:path';
import { COMMON_OPTIONS, UsageError, onePath, parseIndex, parseSnapshot } from '../args';
import type { Command } from '../command';
import { EXIT } from '../command';
import { detect } from '../detect';
import { type Problem, scanEtcd } from '../etcd-scan';
import { holdsWriteBatches, scanLevelDB } from '../leveldb-scan';
import { count, grouped } from '../output';
import { Progress } from '../progress';
import { etcdRecordJson, etcdRecordText } from '../render-etcd';
import { levelDBRecordJson, levelDBRecordLines } from '../render-leveldb';
import { problemJson, problemText } from '../render-problem';

export const dump: Command = {
  name: 'dump',
  help: `Usage: wal dump PATH [options]

Prints every record of an etcd WAL directory (or one *.wal segment) or a LevelDB log
(NNNNNN.log, or a database directory): where it is (segment, byte offset), its type, raft
index/term, size and CRC status. etcd entries are decoded (normal, conf change, conf change v2;
hard states; snapshots); LevelDB WriteBatches are decoded into put/delete with keys and values
escaped printable. Damage is printed where it is found, with its error code and offset.
Never modifies anything.

Options:
  --json              one JSON object per line: kind "record", "problem", then "summary"
  --from N            etcd: start at entry index N; LevelDB: at sequence number N
  --to N              etcd: stop after entry index N; LevelDB: after sequence number N
  --snapshot I:T      etcd: read as OpenForRead at snapshot index I, term T (start segment,
                      entries <= I marked as skipped, snapshot record must exist)
  --full              do not shorten data, keys and values (text output)
  --raw               show payloads as bytes: LevelDB records not decoded as WriteBatches, etcd
                      entries not decoded as etcd requests (--json always has both)
  --format F          etcd | leveldb | auto (default auto)
  --no-color          no colours (NO_COLOR is honoured too)
  -h, --help          this help

Exit status: 0 no damage, 1 damage found (records before it are printed), 2 usage error.`,
  options: {
    ...COMMON_OPTIONS,
    raw: { type: 'boolean' },
    from: { type: 'string' },
    to: { type: 'string' },
    snapshot: { type: 'string' },
    full: { type: 'boolean' },
  },
  async run({ options, positionals }, ctx) {
    const target = detect(onePath('dump', positionals), options['format'] as string | undefined);
    const raw = options['raw'] === true;
    const from = options['from'] !== undefined ? parseIndex('from', options['from'] as string) : 0n;
    const to = options['to'] !== undefined ? parseIndex('to', options['to'] as string) : (1n << 64n) - 1n;
    if (from > to) throw new UsageError('--from is larger than --to');
    const full = options['full'] === true;
    const { out } = ctx;
    // Records scroll past on a terminal anyway; the bar is for `wal dump ... > file`.
    const progress = new Progress('dump', 0, { json: out.json || process.stdout.isTTY === true });
    const problems: Problem[] = [];

    if (target.format === 'etcd') {
      const snapshot = options['snapshot'] !== undefined ? parseSnapshot(options['snapshot'] as string) : undefined;
      let segment = '';
      let position = 0n; // index of the last entry seen: non-entry records belong to it
      let shown = 0;
      const printed = new Set<Problem>();
      const res = await scanEtcd(target, {
        snapshot,
        onProgress: (d, t) => progress.update(d, t),
        onRecord: (r) => {
          if (r.entry) position = r.entry.index;
          const visible = position >= from && position <= to;
          if (visible && r.segment !== segment) {
            segment = r.segment;
            out.line(out.paint('bold', segment));
          }
          if (visible) {
            shown++;
            out.line(etcdRecordText(r, out, full, raw));
            out.record(etcdRecordJson(r));
          }
          if (r.problem) {
            printed.add(r.problem);
            out.line(`  ${out.paint('red', '!!')} ${problemText(r.problem, out)}`);
            out.record(problemJson(r.problem));
          }
        },
      });
      progress.done();
      // Problems attached to a record were printed next to it; the rest (framing, CRC, missing
      // segments or snapshot) end the scan and are printed here.
      for (const p of res.problems) {
        if (printed.has(p)) continue;
        out.line(`  ${out.paint('red', '!!')} ${problemText(p, out)}`);
        out.record(problemJson(p));
      }
      problems.push(...res.problems);
      const range = res.firstEntry === null ? 'no entries' : `entries ${res.firstEntry}..${res.lastEntry}`;
      out.line(
        `${count(res.records, 'record')} in ${count(res.segments.length, 'segment')}, ${range}; ${grouped(shown)} shown; ${problemsText(res.problems.length)}`,
      );
      const logId = target.single ? null : (await readLogMeta(target.dir)).logId;
      if (logId !== null) out.line(`log id ${logId}`);
      out.record({
        kind: 'summary',
        format: 'etcd',
        path: target.dir,
        logId,
        segments: res.segments.length,
        records: res.records,
        shown,
        entries: res.entries,
        firstIndex: res.firstEntry,
        lastIndex: res.lastEntry,
        problems: res.problems.length,
      });
    } else {
      if (options['snapshot'] !== undefined) throw new UsageError('--snapshot applies to etcd WALs only');
      let total = 0;
      let shown = 0;
      for (const file of target.files) {
        out.line(out.paint('bold', path.basename(file)));
        const res = await scanLevelDB(file, {
          batches: !raw && (await holdsWriteBatches(file)),
          onProgress: (d, t) => progress.update(d, t),
          onProblem: (p) => {
            out.line(`  ${out.paint('red', '!!')} ${problemText(p, out)}`);
            out.record(problemJson(p));
          },
          onRecord: (r) => {
            if (r.batch && (r.batch.sequence + BigInt(Math.max(r.batch.ops.length - 1, 0)) < from || r.batch.sequence > to)) return;
            shown++;
            for (const l of levelDBRecordLines(r, out, full)) out.line(l);
            out.record(levelDBRecordJson(r));
            if (r.problem) {
              out.line(`  ${out.paint('red', '!!')} ${problemText(r.problem, out)}`);
              out.record(problemJson(r.problem));
            }
          },
        });
        progress.done();
        total += res.records;
        problems.push(...res.problems);
        out.line(
          `${grouped(res.records)} records, ${grouped(res.puts)} puts, ${grouped(res.deletes)} deletes; ${problemsText(res.problems.length)}`,
        );
      }
      out.record({ kind: 'summary', format: 'leveldb', files: target.files.length, records: total, shown, problems: problems.length });
    }
    return problems.length === 0 ? EXIT.OK : EXIT.PROBLEM;
  },
};

function problemsText(n: number): string {
  return n === 0 ? 'no problems' : count(n, 'problem');
}
