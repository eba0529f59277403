/**
 * Segment names and selection (etcd `wal/util.go`): `%016x-%016x.wal` = sequence number and the
 * raft index the segment's first entry is expected to have.
 */
import { constants as fsConstants, promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { WalError, WalErrorCodes } from '../errors';
import type { IoBackend } from '../io/types';

/** A parsed segment name. */
export interface WalName {
  seq: bigint;
  index: bigint;
}

const hex16 = (v: bigint): string => v.toString(16).padStart(16, '0');

/** etcd `walName`: the strict name of segment `seq` whose first entry is expected at `index`. */
export function walName(seq: bigint, index: bigint): string {
  return `${hex16(seq)}-${hex16(index)}.wal`;
}

// etcd parses with fmt.Sscanf("%016x-%016x.wal"): up to 16 hex digits each, either case, and
// trailing text ignored; the name itself must end in ".wal".
const NAME_PATTERN = /^([0-9a-fA-F]{1,16})-([0-9a-fA-F]{1,16})\.wal/;

/** etcd `parseWALName`; null when the name is not a segment name (etcd ignores such files). */
export function parseWalName(name: string): WalName | null {
  if (!name.endsWith('.wal')) return null;
  const m = NAME_PATTERN.exec(name);
  if (!m) return null;
  return { seq: BigInt(`0x${m[1]!}`), index: BigInt(`0x${m[2]!}`) };
}

/**
 * Refuses a segment that is not a regular file: a directory, a device (a symlink to /dev/null
 * would swallow every append), a FIFO or a socket. A symlink to a regular file is followed, as
 * etcd follows it. The same check for `Log.open`, `WAL.open`/`openForRead` and `wal verify`, so
 * they agree on such a layout: ERR_WAL_IO naming the segment.
 */
export async function checkRegularSegment(io: IoBackend, file: string): Promise<void> {
  let isFile: boolean;
  try {
    isFile = (await io.stat(file)).isFile;
  } catch (err) {
    throw new WalError(WalErrorCodes.IO, `cannot stat the segment: ${(err as Error)?.message ?? String(err)}`, {
      file,
      offset: 0,
      cause: err,
    });
  }
  if (!isFile) throw new WalError(WalErrorCodes.IO, 'the segment is not a regular file (a directory, device or pipe)', { file, offset: 0 });
}

/**
 * A writer needs to create, rename and unlink files in its directory (the next segment, backups,
 * markers). Checked at open so that a read-only directory (mode 0500, a read-only mount) fails
 * there with ERR_WAL_IO instead of at the first cut, when appends have been acknowledged already
 * (etcd itself finds out only when its file pipeline fails).
 */
export async function checkWritableDir(dir: string): Promise<void> {
  try {
    await fsp.access(dir, fsConstants.W_OK | fsConstants.X_OK);
  } catch (err) {
    throw new WalError(WalErrorCodes.IO, `the directory is not writable: ${(err as Error)?.message ?? String(err)}`, {
      file: dir,
      cause: err,
    });
  }
}

/** etcd `readWALNames`: the parseable segment names in `dir`, sorted in byte order. */
export async function readWalNames(io: IoBackend, dir: string): Promise<string[]> {
  const names = await io.readdir(dir);
  return names.filter((n) => parseWalName(n) !== null).sort(byteOrder);
}

function byteOrder(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * etcd `searchIndex`: scanning from the last name backwards, the position of the first name whose
 * index is <= `index`; -1 when there is none.
 */
export function searchIndex(names: readonly string[], index: bigint): number {
  for (let i = names.length - 1; i >= 0; i--) {
    const parsed = parseWalName(names[i]!);
    if (parsed !== null && index >= parsed.index) return i;
  }
  return -1;
}

/**
 * etcd `isValidSeq`: each sequence number is the previous + 1, except that the check is skipped
 * while the previous one is 0 (so 0 followed by 2 passes, as in etcd).
 */
export function isValidSeq(names: readonly string[]): boolean {
  let last = 0n;
  for (const name of names) {
    const parsed = parseWalName(name);
    if (parsed === null) return false;
    if (last !== 0n && last !== parsed.seq - 1n) return false;
    last = parsed.seq;
  }
  return true;
}

/** etcd `Exist`: the directory lists at least one name whose extension is exactly `.wal`. */
export async function exist(io: IoBackend, dir: string): Promise<boolean> {
  let names: string[];
  try {
    names = await io.readdir(dir);
  } catch {
    return false;
  }
  return names.some((n) => path.extname(n) === '.wal');
}

/**
 * etcd `selectWALFiles`: the segment names from the one that can contain `snapIndex` to the end.
 * Throws ERR_WAL_FILE_NOT_FOUND when there are none, none is old enough, or a sequence is missing.
 */
export async function selectWalFiles(io: IoBackend, dir: string, snapIndex: bigint): Promise<string[]> {
  let names: string[];
  try {
    names = await readWalNames(io, dir);
  } catch (err) {
    throw new WalError(WalErrorCodes.FILE_NOT_FOUND, `wal: file not found: cannot list ${dir}`, { file: dir, cause: err });
  }
  if (names.length === 0) throw new WalError(WalErrorCodes.FILE_NOT_FOUND, 'wal: file not found (no segments)', { file: dir });
  const start = searchIndex(names, snapIndex);
  if (start < 0) {
    throw new WalError(WalErrorCodes.FILE_NOT_FOUND, `wal: file not found (no segment starts at or before index ${snapIndex})`, {
      file: dir,
    });
  }
  const selected = names.slice(start);
  if (!isValidSeq(selected)) {
    throw new WalError(WalErrorCodes.FILE_NOT_FOUND, 'wal: file not found (segment sequence has a gap)', { file: dir });
  }
  return selected;
}
