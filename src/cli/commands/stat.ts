/**
 * `wal stat PATH`: the shape of a WAL at a glance — segments with sizes, used vs preallocated
 * bytes and index ranges, snapshots, the last HardState, metadata; or a LevelDB log's size,
 * records, sequence range and operations. Read-only.
 */
import * as path from 'node:path';
import { COMMON_OPTIONS, onePath } from '../args';
import type { Command } from '../command';
import { EXIT } from '../command';
import { detect } from '../detect';
import { type EtcdScanResult, scanEtcd } from '../etcd-scan';
import { holdsWriteBatches, scanLevelDB } from '../leveldb-scan';
import { consumerJson, consumerText, readLogMeta } from '../log-meta';
import { count, escapeBytes, formatBytes, grouped } from '../output';
import { Progress } from '../progress';
import { problemJson, problemText } from '../render-problem';
import { nodeId } from '../raft-decode';
import { renderForward } from '../render-forward';

export const stat: Command = {
  name: 'stat',
  help: `Usage: wal stat PATH [options]

Summarises an etcd WAL: each segment with its sequence number, the index in its name, its size,
the bytes holding records vs preallocated (zero) space, and the entry index range it holds; the
snapshots recorded, the last HardState, the metadata, and leftover *.tmp / *.broken files.
For a LevelDB log: size, records, operations, sequence range. Read-only.

Options:
  --json              one JSON object per line: kind "segment" (etcd) or "log" (LevelDB), "forward"
                      (what each \`wal forward\` last reported), then "summary"
  --raw               LevelDB: show payloads as bytes, do not decode them as WriteBatches
  --format F          etcd | leveldb | auto (default auto)
  --no-color          no colours (NO_COLOR is honoured too)
  -h, --help          this help

Exit status: 0 healthy, 1 damage found (the statistics cover what precedes it), 2 usage error.`,
  options: { ...COMMON_OPTIONS, raw: { type: 'boolean' } },
  async run({ options, positionals }, ctx) {
    const target = detect(onePath('stat', positionals), options['format'] as string | undefined);
    const raw = options['raw'] === true;
    const { out } = ctx;
    const progress = new Progress('stat', 0, { json: out.json });
    if (target.format === 'etcd') {
      const res = await scanEtcd(target, { onProgress: (d, t) => progress.update(d, t) });
      progress.done();
      out.line(out.paint('bold', `etcd WAL ${target.single ? target.segments[0] : target.dir}`));
      out.line(`  ${'segment'.padEnd(38)} ${'size'.padStart(10)} ${'used'.padStart(10)} ${'prealloc'.padStart(10)}  entries`);
      let used = 0;
      let preallocated = 0;
      let unknown = 0;
      for (const s of res.segments) {
        used += s.used;
        const range = s.firstEntry === null ? '-' : `${s.firstEntry}..${s.lastEntry} (${grouped(s.entries)})`;
        // Where the scan stopped on damage, the rest of the segment is unknown, not preallocated.
        const stopped = !s.scanned || res.problems.some((p) => p.file === s.path && p.offset === s.used);
        const prealloc = stopped ? null : Math.max(0, s.size - s.used);
        if (prealloc === null) unknown += s.size - s.used;
        else preallocated += prealloc;
        const note = !s.scanned ? ' (not reached: damage before it)' : stopped ? ` (damage at offset ${s.used})` : '';
        out.line(
          `  ${s.name.padEnd(38)} ${formatBytes(s.size).padStart(10)} ${formatBytes(s.used).padStart(10)} ${(prealloc === null ? '?' : formatBytes(prealloc)).padStart(10)}  ${range}${out.paint('yellow', note)}`,
        );
        out.record({
          kind: 'segment',
          name: s.name,
          seq: s.seq,
          nameIndex: s.nameIndex,
          size: s.size,
          used: s.used,
          preallocated: prealloc,
          records: s.records,
          entries: s.entries,
          firstIndex: s.firstEntry,
          lastIndex: s.lastEntry,
          scanned: s.scanned,
        });
      }
      const range = res.firstEntry === null ? 'none' : `${res.firstEntry}..${res.lastEntry} (last term ${res.lastTerm})`;
      out.line(
        `  total: ${count(res.segments.length, 'segment')}, ${formatBytes(res.bytesTotal)} on disk, ${formatBytes(used)} used, ${formatBytes(preallocated)} preallocated` +
          (unknown > 0 ? `, ${formatBytes(unknown)} unread (at or after damage)` : ''),
      );
      const byType = Object.entries(res.byType).map(([k, v]) => `${k} ${grouped(v)}`);
      out.line(`  records: ${grouped(res.records)}${byType.length > 0 ? ` (${byType.join(', ')})` : ''}`);
      out.line(`  entries: ${range}${readableFrom(res)}`);
      out.line(`  snapshots: ${res.snapshots.length === 0 ? 'none' : res.snapshots.map((s) => `${s.index}:${s.term}`).join(', ')}`);
      out.line(`  hard state: ${res.state ? `term=${res.state.term} vote=${nodeId(res.state.vote)} commit=${res.state.commit}` : 'none'}`);
      out.line(`  metadata: ${res.metadata === null ? 'none' : `${res.metadata.length} bytes "${escapeBytes(res.metadata, 48)}"`}`);
      if (res.extraFiles.length > 0) out.line(`  other files: ${res.extraFiles.join(', ')}`);
      // A Log directory's id and consumers (side files; see docs/consumers.md).
      const meta = target.single ? null : await readLogMeta(target.dir);
      if (meta !== null && (meta.logId !== null || meta.logIdError !== null)) out.line(`  log id: ${meta.logId ?? meta.logIdError!.code}`);
      if (meta !== null && meta.consumers.length > 0) {
        out.line(`  consumers:`);
        for (const c of meta.consumers) {
          out.line(`    ${consumerText(c, res.lastEntry)}`);
          out.record(consumerJson(c, res.lastEntry));
        }
      }
      for (const p of res.problems.slice(0, 5)) out.line(`  ${out.paint('red', '!!')} ${problemText(p, out)}`);
      for (const p of res.problems) out.record(problemJson(p));
      if (!target.single) renderForward(out, target.dir);
      out.record({
        kind: 'summary',
        format: 'etcd',
        path: target.single ? target.segments[0] : target.dir,
        segments: res.segments.length,
        bytes: res.bytesTotal,
        usedBytes: used,
        preallocatedBytes: preallocated,
        unreadBytes: unknown,
        records: res.records,
        recordsByType: res.byType,
        entries: res.entries,
        firstIndex: res.firstEntry,
        lastIndex: res.lastEntry,
        lastTerm: res.lastTerm,
        snapshots: res.snapshots.map((s) => ({ index: s.index, term: s.term })),
        hardState: res.state,
        metadataBytes: res.metadata?.length ?? null,
        otherFiles: res.extraFiles,
        logId: meta?.logId ?? null,
        consumers: meta?.consumers.length ?? 0,
        problems: res.problems.length,
      });
      return res.problems.length === 0 ? EXIT.OK : EXIT.PROBLEM;
    }
    let problems = 0;
    for (const file of target.files) {
      const batches = await holdsWriteBatches(file);
      const res = await scanLevelDB(file, { batches: !raw && batches, onProgress: (d, t) => progress.update(d, t) });
      progress.done();
      problems += res.problems.length;
      const seq = res.firstSequence === null ? 'none' : `${res.firstSequence}..${res.lastSequence ?? res.firstSequence}`;
      out.line(out.paint('bold', `LevelDB log ${file}`));
      out.line(`  size: ${formatBytes(res.size)} (${grouped(res.size)} bytes), ${count(Math.ceil(res.size / 32768), 'block')} of 32 KiB`);
      out.line(
        `  records: ${grouped(res.records)}, payload ${formatBytes(res.payloadBytes)}, complete up to offset ${grouped(res.endOfLastRecord)}`,
      );
      if (batches) out.line(`  operations: ${grouped(res.puts)} puts, ${grouped(res.deletes)} deletes; sequence ${seq}`);
      for (const p of res.problems.slice(0, 5)) out.line(`  ${out.paint('red', '!!')} ${problemText(p, out)}`);
      for (const p of res.problems) out.record(problemJson(p));
      out.record({
        kind: 'log',
        file: path.basename(file),
        size: res.size,
        records: res.records,
        payloadBytes: res.payloadBytes,
        endOfLastRecord: res.endOfLastRecord,
        puts: res.puts,
        deletes: res.deletes,
        firstSequence: res.firstSequence,
        lastSequence: res.lastSequence,
        problems: res.problems.length,
      });
    }
    out.record({ kind: 'summary', format: 'leveldb', files: target.files.length, problems });
    return problems === 0 ? EXIT.OK : EXIT.PROBLEM;
  },
};

/**
 * Entries at or below the newest snapshot record are still on disk but not what a reader opening
 * at that snapshot sees (a Log after truncateFront: its firstIndex is the snapshot index + 1).
 */
function readableFrom(res: EtcdScanResult): string {
  const last = res.snapshots[res.snapshots.length - 1];
  if (last === undefined || res.firstEntry === null || res.lastEntry === null || last.index < res.firstEntry) return '';
  const from = last.index + 1n;
  const range = from > res.lastEntry ? 'none' : `${from}..${res.lastEntry}`;
  return `; after the newest snapshot (${last.index}:${last.term}): ${range}`;
}
