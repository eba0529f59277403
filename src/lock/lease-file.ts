/**
 * The lease's files: names and contents. A lease lives in `<dir>/<base>.<generation>.tmp` (etcd and
 * this library's readers ignore `*.tmp`; LevelDB ignores names it cannot parse). Generations only
 * grow; the highest one present is the lease's state. A new generation is written completely under
 * a private name first and then hard-linked to its generation name, so it appears whole or not at
 * all, and two openers can never both create the same generation (link fails with EEXIST).
 */
import * as fs from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import type { BackendKind } from '../io/types';

/** Where a lease lives: its directory and the name its files start with. */
export interface LeaseSpot {
  dir: string;
  base: string;
}

/** What a generation file says about its holder. */
export interface LeaseContent {
  v: 1;
  token: string;
  pid: number;
  hostname: string;
  bootId: string | null;
  pidNamespace: string | null;
  startTime: string | null;
  backend: BackendKind;
  /** The holder's renewal period and staleness bound: openers judge it by its own numbers. */
  renewMs: number;
  staleMs: number;
  acquiredAt: string;
  /** Written in place (by rename) when the holder closed. */
  released?: true;
}

export function generationName(spot: LeaseSpot, generation: number): string {
  return `${spot.base}.${generation}.tmp`;
}

export function generationPath(spot: LeaseSpot, generation: number): string {
  return path.join(spot.dir, generationName(spot, generation));
}

/** The private name a generation is written under before it is linked into place. */
export function draftPath(spot: LeaseSpot, token: string): string {
  return path.join(spot.dir, `${spot.base}-draft.${token}.tmp`);
}

/** Generation number of a lease file name, or null. */
export function parseGeneration(spot: LeaseSpot, name: string): number | null {
  if (!name.startsWith(`${spot.base}.`) || !name.endsWith('.tmp')) return null;
  const digits = name.slice(spot.base.length + 1, -4);
  if (!/^[1-9][0-9]{0,15}$/.test(digits)) return null;
  const g = Number(digits);
  return Number.isSafeInteger(g) ? g : null;
}

/** Generations present, ascending. */
export function generationsIn(spot: LeaseSpot, names: readonly string[]): number[] {
  const out: number[] = [];
  for (const name of names) {
    const g = parseGeneration(spot, name);
    if (g !== null) out.push(g);
  }
  return out.sort((a, b) => a - b);
}

export async function listGenerations(spot: LeaseSpot): Promise<number[]> {
  return generationsIn(spot, await fsp.readdir(spot.dir));
}

export function listGenerationsSync(spot: LeaseSpot): number[] {
  return generationsIn(spot, fs.readdirSync(spot.dir));
}

export function encodeContent(c: LeaseContent): string {
  return `${JSON.stringify(c)}\n`;
}

/** The content of a generation file, or null when it is not one we can read (damaged, foreign). */
export function decodeContent(text: string): LeaseContent | null {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return null;
  }
  if (typeof v !== 'object' || v === null) return null;
  const c = v as Partial<LeaseContent>;
  const stringOrNull = (x: unknown): boolean => x === null || typeof x === 'string';
  if (
    c.v !== 1 ||
    typeof c.token !== 'string' ||
    typeof c.pid !== 'number' ||
    typeof c.hostname !== 'string' ||
    !stringOrNull(c.bootId) ||
    !stringOrNull(c.pidNamespace) ||
    !stringOrNull(c.startTime) ||
    typeof c.renewMs !== 'number' ||
    typeof c.staleMs !== 'number'
  ) {
    return null;
  }
  return c as LeaseContent;
}

/** A lease file is one short line; anything longer, or not a regular file, is not one of ours. */
const MAX_LEASE_BYTES = 4096;

/**
 * Reads a generation file without following a symlink or reading more than a lease can hold (a
 * hostile `nodewal-lock.9.tmp -> /dev/zero` must not hang or allocate): null when it is not a
 * readable lease; 'gone' when it vanished.
 */
export async function readLeaseFile(file: string): Promise<LeaseContent | null | 'gone'> {
  let handle: fsp.FileHandle;
  try {
    handle = await fsp.open(file, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW | fs.constants.O_NONBLOCK);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return 'gone';
    if (code === 'ELOOP' || code === 'EACCES' || code === 'ENXIO' || code === 'EISDIR') return null;
    throw err;
  }
  try {
    const st = await handle.stat();
    if (!st.isFile() || st.size > MAX_LEASE_BYTES) return null;
    const buf = Buffer.alloc(MAX_LEASE_BYTES);
    const { bytesRead } = await handle.read(buf, 0, MAX_LEASE_BYTES, 0);
    return decodeContent(buf.subarray(0, bytesRead).toString('utf8'));
  } finally {
    await handle.close();
  }
}

/**
 * Writes `content` under a new private name (O_EXCL); `durable`: fdatasync before it is linked, so a
 * generation that survives power loss is never empty (an empty one would be watched for staleMs
 * after the reboot instead of being judged by its boot id at once).
 */
export async function writeDraft(file: string, content: LeaseContent, durable: boolean): Promise<void> {
  const handle = await fsp.open(file, 'wx', 0o600);
  try {
    await handle.writeFile(encodeContent(content));
    if (durable) await handle.datasync();
  } finally {
    await handle.close();
  }
}
