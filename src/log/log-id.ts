/**
 * The log's stable identity: 32 random hex digits created once per log directory and kept across
 * reopens and truncations, so that (log id, index) names one record on any machine. It lives in a
 * small file of its own rather than in the segments' metadata record: etcd requires every segment's
 * metadata to be identical, so a log created before ids existed could never get one there. The name
 * ends in `.tmp`, which etcd's readers skip without a warning. Format: docs/format.md "Log id".
 */
import { randomBytes } from 'node:crypto';
import * as path from 'node:path';
import { WalError, WalErrorCodes } from '../errors';
import type { IoBackend } from '../io/types';

export const LOG_ID_FILE = 'log-id.tmp';
const PREFIX = 'nodewal-log-id 1 ';
/** "nodewal-log-id 1 " + 32 hex + " " + 8 hex crc32c + "\n" */
const FILE_BYTES = PREFIX.length + 32 + 1 + 8 + 1;

function line(io: IoBackend, id: string): string {
  const body = `${PREFIX}${id}`;
  const crc = io.crc32c(Buffer.from(body, 'latin1')) >>> 0;
  return `${body} ${crc.toString(16).padStart(8, '0')}\n`;
}

/** Parses the file's bytes; null when they are not a valid id line (damage, or a foreign file). */
export function parseLogId(io: IoBackend, bytes: Uint8Array): string | null {
  if (bytes.length !== FILE_BYTES) return null;
  const text = Buffer.from(bytes).toString('latin1');
  const m = /^nodewal-log-id 1 ([0-9a-f]{32}) [0-9a-f]{8}\n$/.exec(text);
  if (m === null) return null;
  return line(io, m[1]!) === text ? m[1]! : null;
}

/** The id of the log in `dir`, or null when it has none yet. A damaged file is ERR_WAL_LOG_ID_CORRUPT. */
export async function readLogId(io: IoBackend, dir: string): Promise<string | null> {
  const file = path.join(dir, LOG_ID_FILE);
  let f;
  try {
    f = await io.open(file, { read: true });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
  try {
    const buf = new Uint8Array(FILE_BYTES + 1);
    const n = await f.read(buf, 0);
    const id = parseLogId(io, buf.subarray(0, n));
    if (id === null)
      throw new WalError(
        WalErrorCodes.LOG_ID_CORRUPT,
        'the log id file is damaged (restore it from a backup; a new id would break deduplication downstream)',
        { file },
      );
    return id;
  } finally {
    await f.close();
  }
}

/**
 * The log's id, created durably (write, fdatasync, rename, fsync of the directory) when there is
 * none. Called by the writer under its lock, so two creators cannot race.
 */
export async function ensureLogId(io: IoBackend, dir: string): Promise<string> {
  const existing = await readLogId(io, dir);
  if (existing !== null) return existing;
  const id = randomBytes(16).toString('hex');
  const tmp = path.join(dir, 'log-id.new.tmp');
  const f = await io.open(tmp, { read: false, write: true, create: true, truncate: true });
  try {
    await f.write([Buffer.from(line(io, id), 'latin1')], 0, { datasync: true });
  } finally {
    await f.close();
  }
  await io.rename(tmp, path.join(dir, LOG_ID_FILE));
  await io.fsyncDir(dir);
  return id;
}
