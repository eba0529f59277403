/**
 * The LevelDB reader's accelerations, asked of the native backend by this folder alone: the scan
 * of a block's plain FULL records in one call, and block reads that find those runs on the
 * threadpool beside the read (native/leveldb_calls.cc). On any other backend — the fallback, a
 * test's recording layer, an addon built without these calls — the same scan runs in TypeScript
 * (full-scan.ts) and blocks are read with plain `readv`; both give the same answer on any input.
 */
import { nativeAddonOf, nativeRead } from '../io/native';
import type { IoBackend, WalFile } from '../io/types';
import { scanFullRecordsJs } from './full-scan';

/** The addon's LevelDB calls (native/leveldb_calls.h). */
export interface LevelDBAddonCalls {
  /** See `LevelDBScan.scanFullRecords`; from/to are clamped to the buffer. */
  scanLevelDBFullRecords(block: Uint8Array, from: number, to: number, verify: boolean): number;
  readLevelDBBlocks(
    fd: number,
    blocks: readonly Uint8Array[],
    position: number,
    verify: boolean,
    runs: Uint32Array,
    path: string,
  ): Promise<number>;
  /** The constants native/leveldb_format.h was built with, named as in format.ts. */
  readonly leveldbFormat: Readonly<Record<'BLOCK_SIZE' | 'HEADER_SIZE' | 'ZERO_TYPE' | 'FULL_TYPE' | 'MASK_DELTA', number>>;
}

export interface LevelDBScan {
  /** 'native' when the addon's calls serve this backend, else 'js'. */
  readonly kind: 'native' | 'js';
  /**
   * The offset of the first physical record in `block[from, to)` that is not a complete FULL
   * record with a matching masked CRC (checked when `verify`), or `to`.
   */
  scanFullRecords(block: Uint8Array, from: number, to: number, verify: boolean): number;
  /**
   * `readv` into one buffer per 32 KiB block, then, off the JS thread, the runs of plain FULL
   * records of each block read: block i's (start, stop) pairs go to `runs[i * 2R ...]`,
   * R = runs.length / (2 * blocks), unused pairs 0xFFFFFFFF, with stop = `scanFullRecords(block,
   * start, filled, verify)`. Runs start at 0 and after every other record whose length fits.
   * Returns the bytes read, or undefined when this file cannot (then read with `readv`).
   */
  readBlocks(
    file: WalFile,
    blocks: readonly Uint8Array[],
    position: number,
    verify: boolean,
    runs: Uint32Array,
  ): Promise<number> | undefined;
}

const scans = new WeakMap<IoBackend, LevelDBScan>();

/** The addon's LevelDB calls when `io` is the native backend and its addon has them. */
export function levelDBAddonCalls(io: IoBackend): LevelDBAddonCalls | undefined {
  const addon = nativeAddonOf(io) as Partial<LevelDBAddonCalls> | undefined;
  if (
    addon === undefined ||
    typeof addon.scanLevelDBFullRecords !== 'function' ||
    typeof addon.readLevelDBBlocks !== 'function' ||
    typeof addon.leveldbFormat !== 'object'
  ) {
    return undefined;
  }
  return addon as LevelDBAddonCalls;
}

/**
 * Lends `scan` to `io`, a layer over another backend (a test's fault or recording layer): the
 * reader then uses it for files that layer opens instead of the TypeScript scan.
 */
export function registerLevelDBScan(io: IoBackend, scan: LevelDBScan): void {
  scans.set(io, scan);
}

/** The scan for `io`: the addon's when it has one, else the TypeScript one (one per backend). */
export function levelDBScanFor(io: IoBackend): LevelDBScan {
  let scan = scans.get(io);
  if (scan === undefined) {
    const calls = levelDBAddonCalls(io);
    scan =
      calls === undefined
        ? {
            kind: 'js',
            scanFullRecords: (block, from, to, verify) => scanFullRecordsJs(io, block, from, to, verify),
            readBlocks: () => undefined,
          }
        : {
            kind: 'native',
            // Called once per block span by the reader, which passes valid arguments; the addon
            // clamps from/to to the buffer and type-checks the rest, so no checks here.
            scanFullRecords: (block, from, to, verify) => calls.scanLevelDBFullRecords(block, from, to, verify),
            readBlocks: (file, blocks, position, verify, runs) =>
              nativeRead(file, blocks, position, (fd, held) => calls.readLevelDBBlocks(fd, held, position, verify, runs, file.path)),
          };
    scans.set(io, scan);
  }
  return scan;
}
