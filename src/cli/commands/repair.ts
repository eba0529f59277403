/**
 * `wal repair PATH`: etcd — exactly what etcd's Repair does (the library's WAL.repair): a torn or
 * truncated last record of the last segment is cut off after copying the segment to
 * `<segment>.broken`; any other damage is refused. LevelDB — truncate after the last complete
 * record before the first problem, after copying the log to `<log>.broken`; damage followed by
 * intact records is refused unless --force. Asks first on a terminal; needs --yes otherwise.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { COMMON_OPTIONS, UsageError, onePath } from '../args';
import { backupName, durableCopy, moveAsideOldBackup } from '../backup';
import type { Command, Context } from '../command';
import { EXIT } from '../command';
import { confirm } from '../confirm';
import { type Target, detect } from '../detect';
import { scanEtcd } from '../etcd-scan';
import { scanLevelDB } from '../leveldb-scan';
import { formatBytes, grouped } from '../output';
import { problemJson, problemText } from '../render-problem';
import { WAL } from '../../etcd/wal';
import { repair as repairWal } from '../../etcd/repair';
import { defaultBackend } from '../../io/backend';
import { directorySpot, fileSpot } from '../../lock/directory';
import { Lease } from '../../lock/lease';
import { DEFAULT_LOCK_OPTIONS } from '../../lock/options';

export const repair: Command = {
  name: 'repair',
  help: `Usage: wal repair PATH [options]

etcd WAL: does what etcd's own Repair does. Only a torn or truncated last record in the last
segment is repairable: the segment is copied to <segment>.broken, then truncated at the end of
the last good record. Any other damage (CRC mismatch, broken chain, a lost segment) is refused,
as etcd refuses it. An existing .broken file is kept under a numbered name, never overwritten.

LevelDB log: copies the log to <log>.broken, then truncates it after the last complete record
before the first problem. When intact records follow the damage (LevelDB itself would skip the
damaged bytes and read on), repair refuses unless --force, because they would be cut too.

On a terminal, repair shows what it will cut and asks first; without a terminal it refuses to
modify anything unless --yes is given (exit 2).

Options:
  -y, --yes           do not ask; needed when stdin is not a terminal
  --dry-run           show what would be cut, change nothing
  --force             LevelDB: also cut intact records that follow mid-log damage
  --json              one JSON object per line: kind "plan", then "result"
  --format F          etcd | leveldb | auto (default auto)
  --no-color          no colours (NO_COLOR is honoured too)
  -h, --help          this help

Exit status: 0 repaired or nothing to repair, 1 cannot be repaired or failed, 2 usage error
(including: not a terminal and no --yes).`,
  options: { ...COMMON_OPTIONS, yes: { type: 'boolean', short: 'y' }, 'dry-run': { type: 'boolean' }, force: { type: 'boolean' } },
  async run({ options, positionals }, ctx) {
    const target = detect(onePath('repair', positionals), options['format'] as string | undefined);
    const flags = { yes: options['yes'] === true, dryRun: options['dry-run'] === true, force: options['force'] === true };
    return target.format === 'etcd' ? repairEtcd(target, flags, ctx) : repairLevelDB(target, flags, ctx);
  },
};

interface Flags {
  yes: boolean;
  dryRun: boolean;
  force: boolean;
}

/** Asks (the plan is printed just above) or checks --yes; returns an exit code to stop with, or null to go ahead. */
async function mayProceed(flags: Flags, ctx: Context): Promise<number | null> {
  if (flags.dryRun) {
    ctx.out.line('dry run: nothing changed');
    ctx.out.record({ kind: 'result', repaired: false, dryRun: true });
    return EXIT.OK;
  }
  if (flags.yes) return null;
  if (!ctx.interactive) {
    throw new UsageError('refusing to modify files without confirmation: stdin is not a terminal; pass --yes (or --dry-run to look first)');
  }
  ctx.out.flush();
  if (await confirm('Proceed?')) return null;
  ctx.err('aborted: nothing changed');
  return EXIT.PROBLEM;
}

async function repairEtcd(target: Extract<Target, { format: 'etcd' }>, flags: Flags, ctx: Context): Promise<number> {
  const dir = target.dir;
  if (target.single) {
    const all = (await WAL.exist(dir))
      ? fs
          .readdirSync(dir)
          .filter((n) => n.endsWith('.wal'))
          .sort()
      : [];
    if (all[all.length - 1] !== path.basename(target.segments[0]!)) {
      throw new UsageError('etcd repair works on the WAL directory and only ever touches its last segment; pass the directory');
    }
    target = detect(dir, 'etcd') as Extract<Target, { format: 'etcd' }>;
  }
  // The directory's lease (as WAL.open takes it) before the check, the backup's move and the cut.
  const lease = await Lease.acquire(directorySpot(dir), { ...DEFAULT_LOCK_OPTIONS, io: defaultBackend, what: 'the WAL' });
  try {
    return await repairEtcdLeased(target, flags, ctx);
  } finally {
    await lease.abandon(); // the lease files as they were: a refused repair leaves the directory untouched
  }
}

async function repairEtcdLeased(target: Extract<Target, { format: 'etcd' }>, flags: Flags, ctx: Context): Promise<number> {
  const { out } = ctx;
  const dir = target.dir;
  const res = await scanEtcd(target);
  if (res.problems.length === 0) {
    out.line(`etcd WAL ${dir}: ${grouped(res.records)} records, no damage: nothing to repair`);
    out.record({ kind: 'result', repaired: false, reason: 'healthy' });
    return EXIT.OK;
  }
  const first = res.problems[0]!;
  out.line(`first problem: ${problemText(first, out)}`);
  out.record(problemJson(first));
  if (!first.repairable) {
    out.line(
      out.paint('red', 'cannot be repaired: ') +
        'etcd only repairs a torn or truncated tail of the last segment; this damage is elsewhere or of another kind',
    );
    out.record({ kind: 'result', repaired: false, reason: 'not repairable' });
    return EXIT.PROBLEM;
  }
  const seg = res.segments[res.segments.length - 1]!;
  const cutAt = first.offset ?? seg.used;
  const plan = `Will copy ${seg.name} (${formatBytes(seg.size)}) to ${seg.name}.broken and truncate it at offset ${grouped(cutAt)}, cutting ${grouped(seg.size - cutAt)} bytes (the torn record and the preallocated space after it).`;
  out.line(plan);
  out.record({
    kind: 'plan',
    format: 'etcd',
    file: seg.path,
    size: seg.size,
    truncateAt: cutAt,
    cutBytes: seg.size - cutAt,
    backup: `${seg.path}.broken`,
  });
  const stop = await mayProceed(flags, ctx);
  if (stop !== null) return stop;

  const moved = moveAsideOldBackup(seg.path);
  if (moved !== null) out.line(`kept the earlier backup as ${path.basename(moved)}`);
  const ok = await repairWal(defaultBackend, dir, 1 << 20); // WAL.repair's work, under the lease held above
  const after = await scanEtcd(detect(dir, 'etcd') as Extract<Target, { format: 'etcd' }>);
  const backup = `${seg.path}.broken`;
  const backupOk = fs.existsSync(backup) && fs.statSync(backup).size === seg.size;
  if (!ok || !backupOk) {
    out.line(
      out.paint('red', 'repair failed: ') +
        (ok ? 'the backup is missing or incomplete' : 'the library refused (the damage changed since the check?)'),
    );
    out.record({ kind: 'result', repaired: false, reason: ok ? 'backup missing' : 'refused' });
    return EXIT.PROBLEM;
  }
  const healthy = after.problems.length === 0;
  out.line(
    `${out.paint('green', 'repaired')}: ${seg.name} is now ${grouped(fs.statSync(seg.path).size)} bytes; backup ${path.basename(backup)}; ` +
      `${grouped(after.records)} records, last entry ${after.lastEntry ?? 'none'}; ${healthy ? 'verify: OK' : `still ${after.problems.length} problem(s)`}`,
  );
  out.record({ kind: 'result', repaired: true, backup, lastIndex: after.lastEntry, healthy, problems: after.problems.length });
  return healthy ? EXIT.OK : EXIT.PROBLEM;
}

async function repairLevelDB(target: Extract<Target, { format: 'leveldb' }>, flags: Flags, ctx: Context): Promise<number> {
  if (target.files.length !== 1) {
    throw new UsageError(`${target.files.length} LevelDB logs in this directory; pass the one to repair (usually the newest)`);
  }
  const file = target.files[0]!;
  // The log's lease (as LevelDBLogWriter takes it) before the check: a live writer's tail is never cut.
  const lease = await Lease.acquire(fileSpot(file), { ...DEFAULT_LOCK_OPTIONS, io: defaultBackend, what: 'the LevelDB log' });
  try {
    return await repairLevelDBLeased(file, flags, ctx);
  } finally {
    await lease.abandon(); // the lease files as they were: a refused repair leaves the directory untouched
  }
}

async function repairLevelDBLeased(file: string, flags: Flags, ctx: Context): Promise<number> {
  const { out } = ctx;
  // Repair is about the log's framing: payloads that are not WriteBatches are not its business.
  const res = await scanLevelDB(file, { batches: false });
  if (res.problems.length === 0) {
    out.line(`LevelDB log ${file}: ${grouped(res.records)} records, no damage: nothing to repair`);
    out.record({ kind: 'result', repaired: false, reason: 'healthy' });
    return EXIT.OK;
  }
  const first = res.problems[0]!;
  out.line(`first problem: ${problemText(first, out)}`);
  out.record(problemJson(first));
  if (res.recordsAfterProblem > 0 && !flags.force) {
    out.line(
      out.paint('red', 'not repaired: ') +
        `${grouped(res.recordsAfterProblem)} complete record(s) start at or after the damage and would be cut too. ` +
        'LevelDB itself skips damaged bytes and reads on; pass --force to cut everything from the damage on (a backup is kept).',
    );
    out.record({ kind: 'result', repaired: false, reason: 'records after damage', recordsAfterProblem: res.recordsAfterProblem });
    return EXIT.PROBLEM;
  }
  const backup = backupName(file);
  const plan = `Will copy ${path.basename(file)} (${formatBytes(res.size)}) to ${path.basename(backup)} and truncate it at offset ${grouped(res.cutOffset)}, cutting ${grouped(res.size - res.cutOffset)} bytes${res.recordsAfterProblem > 0 ? ` including ${grouped(res.recordsAfterProblem)} complete record(s) after the damage` : ''}.`;
  out.line(plan);
  out.record({
    kind: 'plan',
    format: 'leveldb',
    file,
    size: res.size,
    truncateAt: res.cutOffset,
    cutBytes: res.size - res.cutOffset,
    recordsLost: res.recordsAfterProblem,
    backup,
  });
  const stop = await mayProceed(flags, ctx);
  if (stop !== null) return stop;

  await durableCopy(file, backup);
  const f = await defaultBackend.open(file, { read: true, write: true });
  try {
    await f.truncate(res.cutOffset);
    await f.sync();
  } finally {
    await f.close();
  }
  const after = await scanLevelDB(file, { batches: false });
  const healthy = after.problems.length === 0;
  out.line(
    `${out.paint('green', 'repaired')}: ${path.basename(file)} is now ${grouped(res.cutOffset)} bytes with ${grouped(after.records)} records; backup ${path.basename(backup)}; ${healthy ? 'verify: OK' : `still ${after.problems.length} problem(s)`}`,
  );
  out.record({ kind: 'result', repaired: true, backup, records: after.records, healthy, problems: after.problems.length });
  return healthy ? EXIT.OK : EXIT.PROBLEM;
}
