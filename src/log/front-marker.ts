/**
 * A tiny side file that keeps a front truncation durable while truncateBack rewrites the bytes
 * holding its snapshot record. Without it, a crash between zeroing the dropped suffix (which
 * contains the snapshot record) and writing the record again would bring compacted entries back.
 * It exists only during that window (and until the next open, after a crash in it). The name ends
 * in `.tmp`, which etcd ignores without a warning.
 */
import * as path from 'node:path';
import type { IoBackend } from '../io/types';

/** File name of the marker inside the log directory. */
export const FRONT_MARKER = 'front.tmp';

/** Durably records that the log's snapshot (front) is {index, term}: write, sync, rename, fsync dir. */
export async function writeFrontMarker(io: IoBackend, dir: string, index: number, term: bigint): Promise<void> {
  const tmp = path.join(dir, `${FRONT_MARKER}.new`);
  const f = await io.open(tmp, { read: false, write: true, create: true, truncate: true });
  try {
    await f.write([Buffer.from(`${index} ${term}\n`)], 0, { datasync: true });
  } finally {
    await f.close();
  }
  await io.rename(tmp, path.join(dir, FRONT_MARKER));
  await io.fsyncDir(dir);
}

/** The marker's {index, term}, or null when there is none (or it is unreadable: a crash before its rename). */
export async function readFrontMarker(io: IoBackend, dir: string): Promise<{ index: number; term: bigint } | null> {
  let f;
  try {
    f = await io.open(path.join(dir, FRONT_MARKER), { read: true });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
  try {
    const buf = new Uint8Array(64);
    const n = await f.read(buf, 0);
    const m = /^(\d+) (\d+)\n$/.exec(Buffer.from(buf.subarray(0, n)).toString('latin1'));
    return m ? { index: Number(m[1]), term: BigInt(m[2]!) } : null;
  } finally {
    await f.close();
  }
}

/** Removes the marker durably (once the snapshot record is back on disk). */
export async function removeFrontMarker(io: IoBackend, dir: string): Promise<void> {
  await io.unlink(path.join(dir, FRONT_MARKER));
  await io.fsyncDir(dir);
}
