/**
 * The one interface between the formats (src/etcd, src/leveldb, src/log) and the disk.
 * Two implementations produce the same bytes: `native.ts` (the addon) and `fallback.ts`
 * (node:fs + crc-32). Tests may supply their own (e.g. a recording layer for power-loss
 * simulation); every format takes an optional `io` so nothing above this folder knows
 * which one it runs on.
 *
 * Errors from the OS are Node-style errors (`errno`, `code` such as 'EAGAIN', `syscall`,
 * `path`), as thrown by node:fs; the formats wrap them in `WalError` where they add meaning.
 */

/**
 * Both backends write a buffered (non-O_DIRECT) batch of at most this many bytes without fdatasync on
 * the calling thread: it only copies into the page cache, which costs the event loop about what a
 * threadpool dispatch and wake-up cost (measured ~15-30 µs on a 2-vCPU VM). The promise still settles
 * after the bytes reached the kernel; writes with fdatasync and larger writes go to the threadpool.
 */
export const INLINE_WRITE_MAX_BYTES = 256 * 1024;

export type BackendKind = 'native' | 'fallback' | 'custom';

export interface OpenOptions {
  /** Open for reading. Default true. */
  read?: boolean;
  /** Open for writing. Default false. */
  write?: boolean;
  /** O_CREAT. Default false. */
  create?: boolean;
  /** O_EXCL (with create). Default false. */
  exclusive?: boolean;
  /** O_TRUNC. Default false. */
  truncate?: boolean;
  /**
   * Ask for O_DIRECT. When the filesystem refuses it (tmpfs: EINVAL) the file is opened
   * buffered and `WalFile.direct` is false; the fallback backend never sets it.
   */
  direct?: boolean;
  /** Permission bits for a created file. Default 0o600 (etcd's PrivateFileMode). */
  mode?: number;
}

export interface WriteOptions {
  /** fdatasync after the write, in the same call (one threadpool hop). Default false. */
  datasync?: boolean;
  /**
   * Run this write on the file's own I/O thread instead of the shared threadpool (native backend:
   * created on first use and stopped by close(); it saves the threadpool's wake-up for a writer
   * that issues write+fdatasync back to back, as Log does, and after each job spins briefly for
   * the next while jobs come sooner than a wake-up; see native/sync_thread.h). Writes on it run in
   * order. A hint: the fallback and writes of several buffers ignore it. Default false.
   */
  dedicatedThread?: boolean;
}

/** An open file. Positions are explicit (pread/pwrite); there is no shared cursor. */
export interface WalFile {
  readonly path: string;
  /** True when the file was opened with O_DIRECT (writes then need aligned buffers). */
  readonly direct: boolean;
  /** Required alignment of address, length and offset for direct writes (e.g. 512), else 1. */
  readonly alignment: number;
  readonly closed: boolean;

  /** pwritev: writes every buffer in order starting at `position`; loops on short writes. */
  write(buffers: readonly Uint8Array[], position: number, opts?: WriteOptions): Promise<void>;
  writeSync(buffers: readonly Uint8Array[], position: number, opts?: WriteOptions): void;
  /** pread into `target`; returns bytes read (short only at end of file). Loops on short reads. */
  read(target: Uint8Array, position: number): Promise<number>;
  readSync(target: Uint8Array, position: number): number;
  /**
   * preadv: fills `targets` in order from `position`, one I/O call for all of them; returns the
   * bytes read (short only at end of file). Loops on short reads.
   */
  readv(targets: readonly Uint8Array[], position: number): Promise<number>;
  datasync(): Promise<void>;
  sync(): Promise<void>;
  /** ftruncate. */
  truncate(length: number): Promise<void>;
  /**
   * fallocate(fd, 0, offset, length): allocate and extend the size, keeping existing data; never
   * shrinks. Falls back to ftruncate (sparse) where fallocate is unsupported — etcd does the same.
   */
  allocate(offset: number, length: number): Promise<void>;
  size(): Promise<number>;
  sizeSync(): number;
  /**
   * Whole-file exclusive write lock. Native: OFD fcntl lock (excludes etcd and other processes,
   * and other opens of the same file in this process). `wait: false` rejects with code 'EAGAIN'
   * when another holder has it. The lock is released on close.
   */
  lock(opts: { wait: boolean }): Promise<void>;
  unlock(): Promise<void>;
  close(): Promise<void>;
  closeSync(): void;
}

export interface IoBackend {
  readonly kind: BackendKind;
  /** Why this backend was chosen (e.g. 'addon loaded from build/Release', 'WAL_NATIVE=0'). */
  readonly reason: string;
  /** Which CRC32C implementation runs: 'sse4.2-3way', 'armv8', 'table', 'crc-32 (js)'. */
  readonly crcImplementation: string;

  /** CRC-32C (Castagnoli) of `data`, continuing from `seed` (a previous result; 0 to start). */
  crc32c(data: Uint8Array, seed?: number): number;
  /**
   * Chained CRCs of consecutive slices of one buffer, in one call:
   * slice i is `data[bounds[2i], bounds[2i+1])`; result[i] = crc32c(slice i, result[i-1]), result[-1] = seed.
   * Slices may be disjoint (gaps are skipped), which lets a caller CRC the payload
   * fields of many frames already laid out in an output buffer.
   */
  crc32cChain(data: Uint8Array, bounds: Uint32Array, seed?: number): Uint32Array;
  open(path: string, opts?: OpenOptions): Promise<WalFile>;
  openSync(path: string, opts?: OpenOptions): WalFile;
  /** fsync a directory (makes creates, renames and unlinks in it durable). */
  fsyncDir(path: string): Promise<void>;
  /** A zero-filled buffer whose address is aligned to `alignment` (a power of two). */
  allocAligned(size: number, alignment: number): Uint8Array;

  /* Directory operations go through the backend so a test layer can record them. */
  rename(from: string, to: string): Promise<void>;
  unlink(path: string): Promise<void>;
  mkdir(path: string, mode?: number): Promise<void>;
  readdir(path: string): Promise<string[]>;
  rm(path: string): Promise<void>;
  stat(path: string): Promise<{ size: number; isDirectory: boolean; isFile: boolean }>;
}
