/**
 * The native backend: loads the addon (native/*.cc) and wraps it as an IoBackend.
 *
 * Where it loads from: `WAL_NATIVE_PATH=/path/to/addon.node` if set (used by the sanitizer job),
 * else node-gyp-build from the package root (build/Release, build/Debug, then prebuilds/). The
 * root is two levels up from this file, which holds for both src/io (tsx) and dist/io (built).
 * Before it is accepted the addon must reproduce the CRC-32C check value of "123456789".
 *
 * Arguments are validated here; the C++ side re-checks only what could crash the process.
 */
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { INLINE_WRITE_MAX_BYTES, type IoBackend, type WalFile, type WriteOptions } from './types';
import { openFlags } from './open-flags';

/**
 * The addon's format-free exports (native/addon.cc). Errors are Node-style fs errors. A format
 * that has calls of its own in the addon types and asks for them itself (src/leveldb/native-scan.ts)
 * through `nativeAddonOf` and `nativeRead`.
 */
export interface NativeAddon {
  readonly crcImplementation: string;
  readonly crcImplementations: readonly string[];
  /** True for the AddressSanitizer/UBSan developer build. */
  readonly sanitized: boolean;
  crc32c(data: Uint8Array, seed: number): number;
  crc32cChain(data: Uint8Array, bounds: Uint32Array, seed: number): Uint32Array;
  crc32cWith(name: string, data: Uint8Array, seed: number): number | undefined;
  allocAligned(size: number, alignment: number): Uint8Array;
  open(path: string, flags: number, mode: number, direct: boolean): Promise<NativeOpenResult>;
  openSync(path: string, flags: number, mode: number, direct: boolean): NativeOpenResult;
  write(fd: number, buffers: readonly Uint8Array[], position: number, datasync: boolean, path: string): Promise<void>;
  writeSync(fd: number, buffers: readonly Uint8Array[], position: number, datasync: boolean, path: string): void;
  read(fd: number, target: Uint8Array, position: number, path: string): Promise<number>;
  readSync(fd: number, target: Uint8Array, position: number, path: string): number;
  readv(fd: number, targets: readonly Uint8Array[], position: number, path: string): Promise<number>;
  datasync(fd: number, path: string): Promise<void>;
  fsync(fd: number, path: string): Promise<void>;
  fsyncSync(fd: number, path: string): void;
  fsyncDir(path: string): Promise<void>;
  fsyncDirSync(path: string): void;
  truncate(fd: number, length: number, path: string): Promise<void>;
  truncateSync(fd: number, length: number, path: string): void;
  allocate(fd: number, offset: number, length: number, path: string): Promise<void>;
  size(fd: number, path: string): Promise<number>;
  sizeSync(fd: number, path: string): number;
  lock(fd: number, wait: boolean, path: string): Promise<void>;
  lockSync(fd: number, wait: boolean, path: string): void;
  unlock(fd: number, path: string): Promise<void>;
  unlockSync(fd: number, path: string): void;
  close(fd: number, path: string): Promise<void>;
  closeSync(fd: number, path: string): void;
  /** A dedicated write + fdatasync thread (native/sync_thread.h); `spinMicros` default 250. */
  SyncThread: new (spinMicros?: number) => NativeSyncThread;
}

/** native/sync_thread.cc: one thread, jobs in submission order. */
export interface NativeSyncThread {
  /** pwrite of all of `buffer` at `position`, then fdatasync when `datasync`. Throws once closed. */
  write(fd: number, buffer: Uint8Array, position: number, datasync: boolean, path: string): Promise<void>;
  /** Stops the thread once the pending writes have settled. */
  close(): void;
  /** Writes issued and not yet settled. */
  readonly pending: number;
}

export interface NativeOpenResult {
  fd: number;
  direct: boolean;
  alignment: number;
}

/** The package root: two levels above src/io or dist/io. */
const packageRoot = path.join(__dirname, '..', '..');

const CHECK_INPUT = Buffer.from('123456789', 'latin1');
const CHECK_VALUE = 0xe3069283;

/** The addon file that would be loaded: WAL_NATIVE_PATH, else node-gyp-build's pick. Throws when none. */
export function resolveNativeAddonPath(): string {
  const explicit = process.env['WAL_NATIVE_PATH'];
  if (explicit) return path.resolve(explicit);
  const nodeGypBuild = require('node-gyp-build') as { resolve(dir: string): string };
  return nodeGypBuild.resolve(packageRoot);
}

function loadAddon(): { addon: NativeAddon; from: string } {
  const file = resolveNativeAddonPath();
  const from = process.env['WAL_NATIVE_PATH'] ? file : path.relative(packageRoot, file) || file;
  return { addon: require(file) as NativeAddon, from };
}

/** Every function the TypeScript side calls on the addon. */
const REQUIRED_CALLS = [
  'crc32c',
  'crc32cChain',
  'crc32cWith',
  'allocAligned',
  'open',
  'openSync',
  'write',
  'writeSync',
  'read',
  'readSync',
  'readv',
  'datasync',
  'fsync',
  'fsyncSync',
  'fsyncDir',
  'fsyncDirSync',
  'truncate',
  'truncateSync',
  'allocate',
  'size',
  'sizeSync',
  'lock',
  'lockSync',
  'unlock',
  'unlockSync',
  'close',
  'closeSync',
  'SyncThread',
] as const satisfies readonly (keyof NativeAddon)[];

/** Loads and self-tests the addon; never throws (the caller decides whether a failure is fatal). */
export function loadNativeBackend(): { backend?: IoBackend; error?: string } {
  let loaded: { addon: NativeAddon; from: string };
  try {
    loaded = loadAddon();
  } catch (err) {
    return { error: err instanceof Error ? err.message.split('\n')[0]! : String(err) };
  }
  const { addon, from } = loaded;
  // A binary built from older sources (a stale prebuild, WAL_NATIVE_PATH) lacks newer calls.
  const missing = REQUIRED_CALLS.filter((name) => typeof (addon as unknown as Record<string, unknown>)[name] !== 'function');
  if (missing.length > 0) {
    return { error: `addon from ${from} is out of date (no ${missing.join(', ')}): rebuild it (npm run build:native)` };
  }
  try {
    const got = addon.crc32c(CHECK_INPUT, 0);
    const chained = addon.crc32cChain(CHECK_INPUT, Uint32Array.of(0, 4, 4, 9), 0)[1];
    if (got !== CHECK_VALUE || chained !== CHECK_VALUE) {
      const seen = [got, chained].map((v) => `0x${(v ?? 0).toString(16)}`).join(', ');
      return { error: `addon from ${from} failed its CRC-32C self-test (got ${seen})` };
    }
  } catch (err) {
    return { error: `addon from ${from} failed its CRC-32C self-test: ${String(err)}` };
  }
  return { backend: createNativeBackend(addon, `addon loaded from ${from}`) };
}

/** The raw addon, for tests that check each CRC implementation; undefined when it does not load. */
export function loadNativeAddonForTests(): NativeAddon | undefined {
  try {
    return loadAddon().addon;
  } catch {
    return undefined;
  }
}

function checkPosition(value: number, what: string): void {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new RangeError(`${what} must be a non-negative safe integer, got ${value}`);
  }
}

function checkBytes(value: unknown, what: string): asserts value is Uint8Array {
  if (!(value instanceof Uint8Array)) throw new TypeError(`${what} must be a Uint8Array or Buffer`);
}

function checkSeed(seed: number): void {
  if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) {
    throw new RangeError('seed must be an unsigned 32-bit integer');
  }
}

function closedError(file: string, syscall: string): NodeJS.ErrnoException {
  const err: NodeJS.ErrnoException = new Error(`EBADF: bad file descriptor, ${syscall} '${file}' (closed)`);
  err.code = 'EBADF';
  err.errno = -9;
  err.syscall = syscall;
  err.path = file;
  return err;
}

class NativeFile implements WalFile {
  private fd: number;
  /** Operations queued on the threadpool; close() waits for them so the fd is not reused under them. */
  private readonly pending = new Set<Promise<unknown>>();
  /** The file's own I/O thread, created by the first `dedicatedThread` write; stopped by close(). */
  private thread: NativeSyncThread | null = null;

  constructor(
    private readonly addon: NativeAddon,
    readonly path: string,
    opened: NativeOpenResult,
  ) {
    this.fd = opened.fd;
    this.direct = opened.direct;
    this.alignment = opened.alignment;
  }

  readonly direct: boolean;
  readonly alignment: number;

  get closed(): boolean {
    return this.fd < 0;
  }

  private openFd(syscall: string): number {
    if (this.fd < 0) throw closedError(this.path, syscall);
    return this.fd;
  }

  private track<T>(start: (fd: number) => Promise<T>, syscall: string): Promise<T> {
    let op: Promise<T>;
    try {
      op = start(this.openFd(syscall));
    } catch (err) {
      return Promise.reject(err);
    }
    this.pending.add(op);
    const done = (): void => {
      this.pending.delete(op);
    };
    op.then(done, done);
    return op;
  }

  write(buffers: readonly Uint8Array[], position: number, opts?: WriteOptions): Promise<void> {
    let bytes: number;
    try {
      bytes = checkBuffers(buffers);
      checkPosition(position, 'position');
    } catch (err) {
      return Promise.reject(err);
    }
    const datasync = opts?.datasync === true;
    if (!datasync && !this.direct && bytes <= INLINE_WRITE_MAX_BYTES) {
      // A small buffered write only copies into the page cache: done here, it costs the event
      // loop about what handing it to the threadpool costs (measured ~15-30 µs per dispatch on a
      // 2-vCPU VM, plus the wake-up on completion), and the caller continues at once. As with
      // the threadpool, the bytes have reached the kernel when the promise settles.
      try {
        this.addon.writeSync(this.openFd('write'), buffers, position, false, this.path);
      } catch (err) {
        return Promise.reject(err);
      }
      return Promise.resolve();
    }
    if (opts?.dedicatedThread === true && buffers.length === 1) {
      const buffer = buffers[0]!;
      return this.track((fd) => (this.thread ??= new this.addon.SyncThread()).write(fd, buffer, position, datasync, this.path), 'write');
    }
    // The addon keeps the array it is given alive until the write completes, and with it the
    // buffers: give it a private copy, so a caller reusing its own array cannot free a buffer
    // under the threadpool thread.
    const held = buffers.slice();
    return this.track((fd) => this.addon.write(fd, held, position, datasync, this.path), 'write');
  }

  writeSync(buffers: readonly Uint8Array[], position: number, opts?: WriteOptions): void {
    checkBuffers(buffers);
    checkPosition(position, 'position');
    this.addon.writeSync(this.openFd('write'), buffers, position, opts?.datasync === true, this.path);
  }

  read(target: Uint8Array, position: number): Promise<number> {
    try {
      checkBytes(target, 'target');
      checkPosition(position, 'position');
    } catch (err) {
      return Promise.reject(err);
    }
    return this.track((fd) => this.addon.read(fd, target, position, this.path), 'read');
  }

  readSync(target: Uint8Array, position: number): number {
    checkBytes(target, 'target');
    checkPosition(position, 'position');
    return this.addon.readSync(this.openFd('read'), target, position, this.path);
  }

  readv(targets: readonly Uint8Array[], position: number): Promise<number> {
    return this.trackRead(targets, position, (fd, held) => this.addon.readv(fd, held, position, this.path));
  }

  /**
   * Checks the arguments of a read into several buffers, then starts it with a private copy of the
   * array, tracked like every other operation on the descriptor (see `nativeRead`).
   */
  trackRead(targets: readonly Uint8Array[], position: number, start: (fd: number, held: Uint8Array[]) => Promise<number>): Promise<number> {
    try {
      checkBuffers(targets);
      checkPosition(position, 'position');
    } catch (err) {
      return Promise.reject(err);
    }
    const held = targets.slice(); // the addon keeps this array (and so every target) alive
    return this.track((fd) => start(fd, held), 'read');
  }

  datasync(): Promise<void> {
    return this.track((fd) => this.addon.datasync(fd, this.path), 'fdatasync');
  }

  sync(): Promise<void> {
    return this.track((fd) => this.addon.fsync(fd, this.path), 'fsync');
  }

  truncate(length: number): Promise<void> {
    try {
      checkPosition(length, 'length');
    } catch (err) {
      return Promise.reject(err);
    }
    return this.track((fd) => this.addon.truncate(fd, length, this.path), 'ftruncate');
  }

  allocate(offset: number, length: number): Promise<void> {
    try {
      checkPosition(offset, 'offset');
      checkPosition(length, 'length');
    } catch (err) {
      return Promise.reject(err);
    }
    // Nothing to allocate: a no-op, as in the fallback and etcd's Preallocate (fallocate(2) would say EINVAL).
    if (length === 0) return Promise.resolve();
    return this.track((fd) => this.addon.allocate(fd, offset, length, this.path), 'fallocate');
  }

  size(): Promise<number> {
    return this.track((fd) => this.addon.size(fd, this.path), 'fstat');
  }

  sizeSync(): number {
    return this.addon.sizeSync(this.openFd('fstat'), this.path);
  }

  /**
   * The try (F_OFD_SETLK) and unlock never block, so they run on this thread: they must not
   * queue behind waiting locks that fill the threadpool. The wait (F_OFD_SETLKW) runs on the
   * threadpool on a duplicate descriptor, so close() need not wait for it and it is not tracked.
   */
  lock(opts: { wait: boolean }): Promise<void> {
    try {
      const fd = this.openFd('fcntl');
      if (opts.wait) return this.addon.lock(fd, true, this.path);
      this.addon.lockSync(fd, false, this.path);
      return Promise.resolve();
    } catch (err) {
      return Promise.reject(err);
    }
  }

  unlock(): Promise<void> {
    if (this.fd < 0) return Promise.resolve(); // closing released it
    try {
      this.addon.unlockSync(this.fd, this.path);
      return Promise.resolve();
    } catch (err) {
      return Promise.reject(err);
    }
  }

  async close(): Promise<void> {
    if (this.fd < 0) return;
    const fd = this.fd;
    this.fd = -1;
    await Promise.allSettled([...this.pending]);
    this.stopThread();
    await this.addon.close(fd, this.path);
  }

  /** Stops the file's I/O thread (it stops by itself once its pending writes settled). */
  private stopThread(): void {
    const thread = this.thread;
    this.thread = null;
    thread?.close();
  }

  closeSync(): void {
    if (this.fd < 0) return;
    const fd = this.fd;
    this.fd = -1;
    this.stopThread();
    if (this.pending.size === 0) {
      this.addon.closeSync(fd, this.path);
      return;
    }
    // Threadpool work still uses fd: close it when that work is done, not under it.
    void Promise.allSettled([...this.pending]).then(() => this.addon.close(fd, this.path).catch(() => undefined));
  }
}

/** Checks the buffers; returns their total length. */
function checkBuffers(buffers: readonly Uint8Array[]): number {
  if (!Array.isArray(buffers)) throw new TypeError('buffers must be an array of Uint8Array');
  let bytes = 0;
  for (let i = 0; i < buffers.length; i++) {
    const b = buffers[i];
    // The message is built only on failure: a template string per buffer cost more than the check.
    if (!(b instanceof Uint8Array)) checkBytes(b, `buffers[${i}]`);
    bytes += b.length;
  }
  return bytes;
}

/** The addon behind each backend createNativeBackend made. */
const addons = new WeakMap<IoBackend, NativeAddon>();

/**
 * The addon behind `io` when it is a native backend (not a layer over one), else undefined: for
 * a format that has calls of its own in the addon and uses them when they are there.
 */
export function nativeAddonOf(io: IoBackend): NativeAddon | undefined {
  return addons.get(io);
}

/**
 * Runs `start` (an addon call that reads into `targets` from `position` on the descriptor) for a
 * file of the native backend, with the checks and tracking of `WalFile.readv`: `start` gets a
 * private copy of the array, and close() waits for the read. Undefined for any other file.
 */
export function nativeRead(
  file: WalFile,
  targets: readonly Uint8Array[],
  position: number,
  start: (fd: number, held: Uint8Array[]) => Promise<number>,
): Promise<number> | undefined {
  return file instanceof NativeFile ? file.trackRead(targets, position, start) : undefined;
}

/** Wraps a loaded, self-tested addon as an IoBackend. */
export function createNativeBackend(addon: NativeAddon, reason: string): IoBackend {
  const io: IoBackend = {
    kind: 'native',
    reason,
    crcImplementation: addon.crcImplementation,
    crc32c(data, seed = 0) {
      checkBytes(data, 'data');
      checkSeed(seed);
      return addon.crc32c(data, seed);
    },
    crc32cChain(data, bounds, seed = 0) {
      checkBytes(data, 'data');
      if (!(bounds instanceof Uint32Array)) throw new TypeError('bounds must be a Uint32Array');
      if (bounds.length % 2 !== 0) throw new RangeError('bounds must hold start,end pairs');
      checkSeed(seed);
      return addon.crc32cChain(data, bounds, seed);
    },
    async open(file, opts = {}) {
      return new NativeFile(addon, file, await addon.open(file, openFlags(opts), opts.mode ?? 0o600, opts.direct === true));
    },
    openSync(file, opts = {}) {
      return new NativeFile(addon, file, addon.openSync(file, openFlags(opts), opts.mode ?? 0o600, opts.direct === true));
    },
    fsyncDir: (dir) => addon.fsyncDir(dir),
    allocAligned(size, alignment) {
      checkPosition(size, 'size');
      if (!Number.isInteger(alignment) || alignment < 1 || (alignment & (alignment - 1)) !== 0) {
        throw new RangeError(`alignment must be a power of two, got ${alignment}`);
      }
      return addon.allocAligned(size, alignment);
    },
    rename: (from, to) => fsp.rename(from, to),
    unlink: (file) => fsp.unlink(file),
    mkdir: async (dir, mode = 0o700) => {
      await fsp.mkdir(dir, { recursive: true, mode });
    },
    readdir: (dir) => fsp.readdir(dir),
    rm: (target) => fsp.rm(target, { recursive: true, force: true }),
    async stat(file) {
      const st = await fsp.stat(file);
      return { size: st.size, isDirectory: st.isDirectory(), isFile: st.isFile() };
    },
  };
  addons.set(io, addon);
  return io;
}
