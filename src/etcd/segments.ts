/**
 * Segment names and selection (etcd `wal/util.go`): `%016x-%016x.wal` = sequence number and the
 * raft index the segment's first entry is expected to have.
 */
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
