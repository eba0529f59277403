/**
 * Which format PATH holds. A directory with `*.wal` segments is an etcd WAL; a `NNNNNN.log` file
 * (or a directory of them, such as a LevelDB database) is a LevelDB log; `--format` overrides.
 * A single `*.wal` file is read as a one-segment etcd WAL; a file named otherwise is recognised by
 * its first record (src/cli/sniff.ts).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { UsageError } from './args';
import { parseWalName } from '../etcd/segments';
import { sniffFormat } from './sniff';

export type Target =
  | { format: 'etcd'; dir: string; /** Segment paths in etcd's order (byte order of names). */ segments: string[]; single: boolean }
  | { format: 'leveldb'; /** Log files, lowest number first. */ files: string[] };

const LEVELDB_LOG = /^\d+\.log$/;

/** Resolves PATH and `--format` into a target; UsageError when neither format fits. */
export function detect(target: string, format: string | undefined): Target {
  if (format !== undefined && format !== 'etcd' && format !== 'leveldb' && format !== 'auto') {
    throw new UsageError(`--format must be etcd, leveldb or auto, got '${format}'`);
  }
  let st: fs.Stats;
  try {
    st = fs.statSync(target);
  } catch {
    throw new UsageError(`${target}: no such file or directory`);
  }
  const want = format === 'auto' ? undefined : format;
  if (st.isDirectory()) {
    const names = fs.readdirSync(target);
    const wal = names.filter((n) => parseWalName(n) !== null).sort(byteOrder);
    const logs = names.filter((n) => LEVELDB_LOG.test(n)).sort((a, b) => Number.parseInt(a, 10) - Number.parseInt(b, 10));
    if (want === 'etcd' || (want === undefined && wal.length > 0)) {
      if (wal.length === 0) throw new UsageError(`${target}: no etcd segments (*.wal) in this directory`);
      return { format: 'etcd', dir: target, segments: wal.map((n) => path.join(target, n)), single: false };
    }
    if (want === 'leveldb' || (want === undefined && logs.length > 0)) {
      if (logs.length === 0) throw new UsageError(`${target}: no LevelDB log files (NNNNNN.log) in this directory`);
      return { format: 'leveldb', files: logs.map((n) => path.join(target, n)) };
    }
    throw new UsageError(`${target}: neither an etcd WAL (*.wal) nor a LevelDB log (NNNNNN.log); pass --format etcd|leveldb`);
  }
  const base = path.basename(target);
  if (want === 'leveldb' || (want === undefined && LEVELDB_LOG.test(base))) return { format: 'leveldb', files: [target] };
  if (want === 'etcd' || (want === undefined && base.endsWith('.wal'))) {
    return { format: 'etcd', dir: path.dirname(target), segments: [target], single: true };
  }
  // The name tells nothing (a backup, a renamed file): the first record does.
  const sniffed = st.size > 0 ? sniffFormat(target) : null;
  if (sniffed === 'leveldb') return { format: 'leveldb', files: [target] };
  if (sniffed === 'etcd') return { format: 'etcd', dir: path.dirname(target), segments: [target], single: true };
  throw new UsageError(
    `${target}: neither its name (NNNNNN.log, *.wal) nor its first record looks like a LevelDB log or an etcd segment` +
      `${st.size === 0 ? ' (the file is empty)' : ''}; pass --format etcd|leveldb to read it anyway`,
  );
}

function byteOrder(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
