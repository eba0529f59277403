/**
 * The durable list of truncateBack cuts, `truncations.tmp`: line 1 `nodewal-truncations 1 <count>`,
 * then the cut index of each truncateBack, oldest first, then a CRC32C line over everything
 * before it. A consumer's cursor records how many cuts it was checked against; a cut it has not seen
 * that is below its position means the indexes it read now name other records
 * (ConsumerTruncatedError). Written before truncateBack touches a segment (write, fdatasync,
 * rename, fsync of the directory), so no crash can lose a cut that happened.
 */
import * as path from 'node:path';
import { WalError, WalErrorCodes } from '../errors';
import type { IoBackend } from '../io/types';

export const TRUNCATIONS_FILE = 'truncations.tmp';

function encode(io: IoBackend, cuts: readonly number[]): Buffer {
  const body = `nodewal-truncations 1 ${cuts.length}\n${cuts.map((c) => `${c}\n`).join('')}`;
  const crc = io.crc32c(Buffer.from(body, 'latin1')) >>> 0;
  return Buffer.from(`${body}crc ${crc.toString(16).padStart(8, '0')}\n`, 'latin1');
}

/** The cuts in the file's bytes, or null when they do not form a valid file. */
export function decodeTruncations(io: IoBackend, bytes: Uint8Array): number[] | null {
  const text = Buffer.from(bytes).toString('latin1');
  const m = /^(nodewal-truncations 1 (\d+)\n((?:\d+\n)*))crc ([0-9a-f]{8})\n$/.exec(text);
  if (m === null) return null;
  if (io.crc32c(Buffer.from(m[1]!, 'latin1')) >>> 0 !== Number.parseInt(m[4]!, 16)) return null;
  const cuts = m[3]!
    .split('\n')
    .filter((l) => l !== '')
    .map(Number);
  return cuts.length === Number(m[2]) ? cuts : null;
}

/** Every cut so far ([] when there is no file). A damaged file is ERR_WAL_CONSUMER_CORRUPT. */
export async function readTruncations(io: IoBackend, dir: string): Promise<number[]> {
  const file = path.join(dir, TRUNCATIONS_FILE);
  let f;
  try {
    f = await io.open(file, { read: true });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  try {
    const size = await f.size();
    const buf = new Uint8Array(size);
    const n = await f.read(buf, 0);
    const cuts = decodeTruncations(io, buf.subarray(0, n));
    if (cuts === null) throw new WalError(WalErrorCodes.CONSUMER_CORRUPT, 'the truncateBack history is damaged', { file, offset: 0 });
    return cuts;
  } finally {
    await f.close();
  }
}

/** Durably replaces the history with `cuts`. */
export async function writeTruncations(io: IoBackend, dir: string, cuts: readonly number[]): Promise<void> {
  const tmp = path.join(dir, 'truncations.new.tmp');
  const f = await io.open(tmp, { read: false, write: true, create: true, truncate: true });
  try {
    await f.write([encode(io, cuts)], 0, { datasync: true });
  } finally {
    await f.close();
  }
  await io.rename(tmp, path.join(dir, TRUNCATIONS_FILE));
  await io.fsyncDir(dir);
}

/** The lowest cut after the first `since` ones, or null. */
export function lowestCutSince(cuts: readonly number[], since: number): number | null {
  let low: number | null = null;
  for (let i = since; i < cuts.length; i++) low = low === null ? cuts[i]! : Math.min(low, cuts[i]!);
  return low;
}
