/**
 * Streaming frame decoder over a WAL's segment files, with etcd's exact rules (`wal/decoder.go`,
 * spec §7.2-7.3): a zero length word ends a file, a torn last record is ERR_WAL_UNEXPECTED_EOF,
 * a bad CRC is ERR_WAL_CRC_MISMATCH, and crc records are checked against the running chain
 * (ERR_WAL_CHAIN_MISMATCH; skipped while the running value is 0, as etcd since 3.4.9).
 *
 * Files are read in chunks (1 MiB by default) into fresh buffers that are never reused, so the
 * `data` of a returned record is a view that stays valid (no per-record copy). Memory held is the
 * current chunk plus whatever records the caller keeps.
 */
import { WalError, WalErrorCodes } from '../errors';
import type { IoBackend, WalFile } from '../io/types';
import { RecordType, decodeRecord } from './codec';
import { FRAME_SIZE_BYTES, MAX_WAL_ENTRY_SIZE_LIMIT, decodeFrameSize } from './frame';

/** Torn-write detection granularity (etcd `minSectorSize`). */
export const MIN_SECTOR_SIZE = 512;

/** Default read size; big enough to amortise the syscall, small enough to keep memory bounded. */
export const DEFAULT_CHUNK_SIZE = 1 << 20;

/** One segment to decode: an open file and its size when opened. */
export interface DecoderSource {
  path: string;
  file: WalFile;
  size: number;
}

/** A decoded, CRC-checked record and where its frame starts. */
export interface DecodedRecord {
  type: number;
  crc: number;
  /** A view into a read buffer that is never reused; null when the field was absent. */
  data: Uint8Array | null;
  /** Index into the decoder's sources. */
  fileIndex: number;
  /** Offset of the frame's length word in that file. */
  offset: number;
}

/** Options for `Decoder`. */
export interface DecoderOptions {
  /** Bytes per read. Default 1 MiB. */
  chunkSize?: number;
  /** Running CRC to start from (etcd starts at 0). */
  crc?: number;
}

/**
 * etcd's decoder. Use `next()` (async), or `tryNext()` + `fill()` to decode synchronously while
 * the buffer holds whole frames. After EOF, `lastValidOffset` is the end of the last good frame
 * in the last file and `crc` the running CRC there: where a writer continues (etcd ReadAll).
 */
export class Decoder {
  /** Running CRC-32C of the chain (etcd `decoder.crc`). */
  crc: number;
  /** Offset just past the last good frame in the current file (etcd `lastValidOff`). */
  lastValidOffset = 0;
  /** Index of the file being decoded (== sources.length after EOF... stays on the last one). */
  fileIndex = 0;

  private readonly chunkSize: number;
  private buf: Uint8Array = new Uint8Array(0);
  /** File offset of buf[0]. */
  private bufStart = 0;
  /** Valid bytes in buf. */
  private bufLen = 0;
  /** The current file returned a short read: nothing more to read from it. */
  private fileDrained = false;
  /** Bytes needed from lastValidOffset before tryNext can continue. */
  private wanted = 0;
  private finished = false;

  constructor(
    private readonly io: IoBackend,
    readonly sources: readonly DecoderSource[],
    opts: DecoderOptions = {},
  ) {
    this.chunkSize = Math.max(4096, opts.chunkSize ?? DEFAULT_CHUNK_SIZE);
    this.crc = (opts.crc ?? 0) >>> 0;
    if (sources.length === 0) this.finished = true;
  }

  /** Path of the file being decoded (the last one after EOF). */
  get currentPath(): string | undefined {
    return this.sources[Math.min(this.fileIndex, this.sources.length - 1)]?.path;
  }

  /** etcd `updateCRC`. */
  updateCrc(crc: number): void {
    this.crc = crc >>> 0;
  }

  /** The next record, or null at the end of the last file. Throws WalError as etcd returns errors. */
  async next(): Promise<DecodedRecord | null> {
    for (;;) {
      const rec = this.tryNext();
      if (rec !== undefined) return rec;
      await this.fill();
    }
  }

  /** Like `next()` but synchronous: undefined means "call `fill()` first". */
  tryNext(): DecodedRecord | null | undefined {
    for (;;) {
      if (this.finished) return null;
      const pos = this.lastValidOffset - this.bufStart;
      const avail = this.bufLen - pos;
      if (avail < FRAME_SIZE_BYTES) {
        if (!this.fileDrained) return this.want(FRAME_SIZE_BYTES);
        if (avail === 0) {
          this.nextFile();
          continue;
        }
        throw this.error(WalErrorCodes.UNEXPECTED_EOF, 'unexpected EOF: truncated length word');
      }
      const { n, pad, zero } = decodeFrameSize(this.buf, pos);
      if (zero) {
        // Preallocated zero space: end of data in this file.
        this.nextFile();
        continue;
      }
      if (n >= MAX_WAL_ENTRY_SIZE_LIMIT - pad) {
        throw this.error(
          WalErrorCodes.RECORD_TOO_LARGE,
          `wal: max entry size limit exceeded (record of ${n} bytes, limit ${MAX_WAL_ENTRY_SIZE_LIMIT - pad})`,
        );
      }
      const frameLen = FRAME_SIZE_BYTES + n + pad;
      const source = this.sources[this.fileIndex]!;
      if (avail < frameLen) {
        const readable = this.fileDrained ? this.bufStart + this.bufLen : source.size;
        if (this.lastValidOffset + frameLen > readable || this.fileDrained) {
          throw this.error(WalErrorCodes.UNEXPECTED_EOF, 'unexpected EOF: frame runs past the end of the file');
        }
        return this.want(frameLen);
      }
      return this.decodeFrame(pos, n, pad);
    }
  }

  /** Reads more of the current file so that the frame tryNext asked for is in memory. */
  async fill(): Promise<void> {
    const source = this.sources[this.fileIndex];
    if (source === undefined || this.fileDrained) return;
    const pos = this.lastValidOffset - this.bufStart;
    const keep = this.bufLen - pos;
    const size = Math.max(this.chunkSize, this.wanted);
    const next = new Uint8Array(size);
    if (keep > 0) next.set(this.buf.subarray(pos, this.bufLen));
    let got: number;
    try {
      got = await source.file.read(next.subarray(keep), this.lastValidOffset + keep);
    } catch (err) {
      throw new WalError(WalErrorCodes.IO, `cannot read ${source.path}`, { file: source.path, offset: this.lastValidOffset + keep, cause: err });
    }
    if (got < size - keep) this.fileDrained = true;
    this.buf = next;
    this.bufStart = this.lastValidOffset;
    this.bufLen = keep + got;
  }

  private want(bytes: number): undefined {
    this.wanted = bytes;
    return undefined;
  }

  private nextFile(): void {
    if (this.fileIndex + 1 >= this.sources.length) {
      // etcd keeps lastValidOff of the last file: where the writer continues.
      this.finished = true;
      return;
    }
    this.fileIndex++;
    this.lastValidOffset = 0;
    this.buf = new Uint8Array(0);
    this.bufStart = 0;
    this.bufLen = 0;
    this.fileDrained = false;
  }

  private decodeFrame(pos: number, n: number, pad: number): DecodedRecord {
    const recBytes = this.buf.subarray(pos + FRAME_SIZE_BYTES, pos + FRAME_SIZE_BYTES + n);
    let rec;
    try {
      rec = decodeRecord(recBytes);
    } catch (err) {
      if (this.isTornEntry(pos, n + pad)) throw this.error(WalErrorCodes.UNEXPECTED_EOF, 'unexpected EOF: torn record');
      const msg = err instanceof Error ? err.message : String(err);
      throw this.error(WalErrorCodes.CORRUPT_RECORD, `proto: cannot decode walpb.Record: ${msg}`, err);
    }
    if (rec.type !== RecordType.Crc) {
      const crc = rec.data === null ? this.crc : this.io.crc32c(rec.data, this.crc);
      this.crc = crc;
      if (rec.crc !== crc) {
        if (this.isTornEntry(pos, n + pad)) throw this.error(WalErrorCodes.UNEXPECTED_EOF, 'unexpected EOF: torn record');
        throw this.error(WalErrorCodes.CRC_MISMATCH, 'walpb: crc mismatch');
      }
    } else {
      // ReadAll's chain check; skipped while running is 0 so reading can start after purged segments.
      if (this.crc !== 0 && rec.crc !== this.crc) {
        throw this.error(WalErrorCodes.CHAIN_MISMATCH, 'wal: crc mismatch');
      }
      this.crc = rec.crc >>> 0;
    }
    const offset = this.lastValidOffset;
    this.lastValidOffset += FRAME_SIZE_BYTES + n + pad;
    return { type: rec.type, crc: rec.crc, data: rec.data, fileIndex: this.fileIndex, offset };
  }

  /**
   * etcd `isTornEntry`: in the last file only, split the record+padding bytes at 512-byte sector
   * boundaries of their file offsets; an all-zero piece means the write was torn.
   */
  private isTornEntry(pos: number, len: number): boolean {
    if (this.fileIndex !== this.sources.length - 1) return false;
    const buf = this.buf;
    let fileOff = this.lastValidOffset + FRAME_SIZE_BYTES;
    let cur = pos + FRAME_SIZE_BYTES;
    const end = cur + len;
    while (cur < end) {
      const chunk = Math.min(MIN_SECTOR_SIZE - (fileOff % MIN_SECTOR_SIZE), end - cur);
      let zero = true;
      for (let i = cur; i < cur + chunk; i++) {
        if (buf[i] !== 0) {
          zero = false;
          break;
        }
      }
      if (zero) return true;
      fileOff += chunk;
      cur += chunk;
    }
    return false;
  }

  private error(code: (typeof WalErrorCodes)[keyof typeof WalErrorCodes], message: string, cause?: unknown): WalError {
    return new WalError(code, message, { file: this.currentPath, offset: this.lastValidOffset, cause });
  }
}

/** Opens `paths` read-only with their sizes, for a Decoder. The caller closes the files. */
export async function openSources(io: IoBackend, paths: readonly string[]): Promise<DecoderSource[]> {
  const out: DecoderSource[] = [];
  try {
    for (const p of paths) {
      const file = await io.open(p, { read: true });
      out.push({ path: p, file, size: await file.size() });
    }
  } catch (err) {
    await Promise.all(out.map((s) => s.file.close().catch(() => undefined)));
    throw err;
  }
  return out;
}
