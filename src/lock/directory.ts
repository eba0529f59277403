/**
 * The lease spots of each format: a WAL or Log directory is leased as a whole
 * (`<dir>/nodewal-lock.<n>.tmp`); a LevelDB log file, which shares its directory with the rest of
 * a database, is leased alone (`<file>.nodewal-lock.<n>.tmp` beside it).
 */
import * as path from 'node:path';
import type { LeaseSpot } from './lease-file';

export const DIRECTORY_LEASE_BASE = 'nodewal-lock';

export function directorySpot(dir: string): LeaseSpot {
  return { dir, base: DIRECTORY_LEASE_BASE };
}

export function fileSpot(file: string): LeaseSpot {
  return { dir: path.dirname(file), base: `${path.basename(file)}.${DIRECTORY_LEASE_BASE}` };
}
