/**
 * Fault injection through the backend interface. `FaultIo` wraps a real IoBackend and, when a
 * rule matches an operation, fails it with a Node-style errno error (ENOSPC, EIO, EMFILE, EACCES,
 * EROFS...) instead of — or, for `after: true`, after — performing it. It also keeps counts and
 * the largest read buffer asked for, so tests can bound memory use by the file sizes.
 */
import type { IoBackend, OpenOptions, WalFile, WriteOptions } from '../../src/io/types';
import { DelegatingFile } from './delegating-file';

/** Operations a rule can target. */
export type FaultOp =
  | 'open'
  | 'write'
  | 'read'
  | 'datasync'
  | 'sync'
  | 'truncate'
  | 'allocate'
  | 'size'
  | 'lock'
  | 'close'
  | 'fsyncDir'
  | 'rename'
  | 'unlink'
  | 'mkdir'
  | 'readdir'
  | 'rm'
  | 'stat';

export interface FaultRule {
  op: FaultOp;
  /** errno code to fail with, e.g. 'ENOSPC'. */
  code: string;
  /** Only paths matching this (substring or RegExp). */
  path?: string | RegExp;
  /** Skip this many matching calls first. Default 0. */
  skip?: number;
  /** Fail this many matching calls, then stop. Default Infinity. */
  times?: number;
  /** For writes: perform a partial write of this many bytes first (a short write before ENOSPC). */
  partialBytes?: number;
  /** Perform the operation, then report the failure (e.g. fsync whose error arrives after the fact). */
  after?: boolean;
}

const ERRNO: Record<string, number> = {
  ENOSPC: -28,
  EIO: -5,
  EMFILE: -24,
  EACCES: -13,
  EPERM: -1,
  EROFS: -30,
  EDQUOT: -122,
  ENOENT: -2,
  EINTR: -4,
};

/** A Node-style errno error, as node:fs throws. */
export function errnoError(code: string, syscall: string, path?: string): NodeJS.ErrnoException {
  const err: NodeJS.ErrnoException = new Error(`${code}: injected fault, ${syscall}${path ? ` '${path}'` : ''}`);
  err.code = code;
  err.errno = ERRNO[code] ?? -1;
  err.syscall = syscall;
  if (path !== undefined) err.path = path;
  return err;
}

export class FaultIo implements IoBackend {
  readonly kind = 'custom' as const;
  readonly reason: string;
  readonly crcImplementation: string;
  rules: FaultRule[] = [];
  /** Calls per operation (including failed ones). */
  readonly calls = new Map<FaultOp, number>();
  /** Faults actually injected. */
  injected = 0;
  /** The largest buffer any read asked to fill. */
  maxReadLength = 0;
  /** Paths of files opened through this layer and not closed yet (a leak check). */
  readonly openFiles = new Map<WalFile, string>();
  private readonly hits = new Map<FaultRule, number>();

  constructor(readonly inner: IoBackend) {
    this.reason = `fault injection over ${inner.kind}`;
    this.crcImplementation = inner.crcImplementation;
  }

  /** Adds a rule; returns this for chaining. */
  fail(rule: FaultRule): this {
    this.rules.push(rule);
    return this;
  }

  clear(): void {
    this.rules = [];
    this.hits.clear();
  }

  /** The rule that fires for this call, if any (counts the call either way). */
  check(op: FaultOp, path: string | undefined): FaultRule | undefined {
    this.calls.set(op, (this.calls.get(op) ?? 0) + 1);
    for (const rule of this.rules) {
      if (rule.op !== op) continue;
      if (rule.path !== undefined && path !== undefined) {
        const ok = typeof rule.path === 'string' ? path.includes(rule.path) : rule.path.test(path);
        if (!ok) continue;
      }
      const seen = this.hits.get(rule) ?? 0;
      this.hits.set(rule, seen + 1);
      const skip = rule.skip ?? 0;
      if (seen < skip || seen - skip >= (rule.times ?? Infinity)) continue;
      this.injected++;
      return rule;
    }
    return undefined;
  }

  /** Runs `fn` unless a rule fails it (before or after). */
  async run<T>(op: FaultOp, path: string | undefined, fn: () => Promise<T>): Promise<T> {
    const rule = this.check(op, path);
    if (rule === undefined) return fn();
    if (rule.after) await fn();
    throw errnoError(rule.code, op, path);
  }

  crc32c(data: Uint8Array, seed?: number): number {
    return this.inner.crc32c(data, seed);
  }
  crc32cChain(data: Uint8Array, bounds: Uint32Array, seed?: number): Uint32Array {
    return this.inner.crc32cChain(data, bounds, seed);
  }
  allocAligned(size: number, alignment: number): Uint8Array {
    return this.inner.allocAligned(size, alignment);
  }
  async open(path: string, opts?: OpenOptions): Promise<WalFile> {
    const file = new FaultFile(this, await this.run('open', path, () => this.inner.open(path, opts)));
    this.openFiles.set(file, path);
    return file;
  }
  openSync(path: string, opts?: OpenOptions): WalFile {
    const rule = this.check('open', path);
    if (rule !== undefined) throw errnoError(rule.code, 'open', path);
    const file = new FaultFile(this, this.inner.openSync(path, opts));
    this.openFiles.set(file, path);
    return file;
  }
  fsyncDir(path: string): Promise<void> {
    return this.run('fsyncDir', path, () => this.inner.fsyncDir(path));
  }
  rename(from: string, to: string): Promise<void> {
    return this.run('rename', to, () => this.inner.rename(from, to));
  }
  unlink(path: string): Promise<void> {
    return this.run('unlink', path, () => this.inner.unlink(path));
  }
  mkdir(path: string, mode?: number): Promise<void> {
    return this.run('mkdir', path, () => this.inner.mkdir(path, mode));
  }
  readdir(path: string): Promise<string[]> {
    return this.run('readdir', path, () => this.inner.readdir(path));
  }
  rm(path: string): Promise<void> {
    return this.run('rm', path, () => this.inner.rm(path));
  }
  stat(path: string): Promise<{ size: number; isDirectory: boolean; isFile: boolean }> {
    return this.run('stat', path, () => this.inner.stat(path));
  }
}

/** Fails the calls a rule of `io` matches; unmatched calls pass through. */
class FaultFile extends DelegatingFile {
  constructor(
    private readonly io: FaultIo,
    inner: WalFile,
  ) {
    super(inner);
  }

  override async write(buffers: readonly Uint8Array[], position: number, opts?: WriteOptions): Promise<void> {
    const rule = this.io.check('write', this.path);
    if (rule !== undefined) {
      if (rule.partialBytes !== undefined && rule.partialBytes > 0) {
        const all = concat(buffers);
        await this.inner.write([all.subarray(0, Math.min(rule.partialBytes, all.length))], position);
      }
      throw errnoError(rule.code, 'write', this.path);
    }
    if (opts?.datasync) {
      // The datasync half can fail on its own (EIO after the bytes reached the page cache).
      await this.inner.write(buffers, position);
      await this.datasync();
      return;
    }
    await this.inner.write(buffers, position);
  }
  override writeSync(buffers: readonly Uint8Array[], position: number, opts?: WriteOptions): void {
    const rule = this.io.check('write', this.path);
    if (rule !== undefined) throw errnoError(rule.code, 'write', this.path);
    this.inner.writeSync(buffers, position, opts);
  }
  override read(target: Uint8Array, position: number): Promise<number> {
    this.io.maxReadLength = Math.max(this.io.maxReadLength, target.length);
    return this.io.run('read', this.path, () => this.inner.read(target, position));
  }
  override readv(targets: readonly Uint8Array[], position: number): Promise<number> {
    const length = targets.reduce((sum, t) => sum + t.length, 0);
    this.io.maxReadLength = Math.max(this.io.maxReadLength, length);
    return this.io.run('read', this.path, () => this.inner.readv(targets, position));
  }
  override readSync(target: Uint8Array, position: number): number {
    this.io.maxReadLength = Math.max(this.io.maxReadLength, target.length);
    const rule = this.io.check('read', this.path);
    if (rule !== undefined) throw errnoError(rule.code, 'read', this.path);
    return this.inner.readSync(target, position);
  }
  override datasync(): Promise<void> {
    return this.io.run('datasync', this.path, () => this.inner.datasync());
  }
  override sync(): Promise<void> {
    return this.io.run('sync', this.path, () => this.inner.sync());
  }
  override truncate(length: number): Promise<void> {
    return this.io.run('truncate', this.path, () => this.inner.truncate(length));
  }
  override allocate(offset: number, length: number): Promise<void> {
    return this.io.run('allocate', this.path, () => this.inner.allocate(offset, length));
  }
  override size(): Promise<number> {
    return this.io.run('size', this.path, () => this.inner.size());
  }
  override lock(opts: { wait: boolean }): Promise<void> {
    return this.io.run('lock', this.path, () => this.inner.lock(opts));
  }
  override async close(): Promise<void> {
    await this.io.run('close', this.path, () => this.inner.close());
    this.io.openFiles.delete(this);
  }
  override closeSync(): void {
    this.inner.closeSync();
    this.io.openFiles.delete(this);
  }
}

function concat(buffers: readonly Uint8Array[]): Uint8Array {
  let n = 0;
  for (const b of buffers) n += b.length;
  const out = new Uint8Array(n);
  let at = 0;
  for (const b of buffers) {
    out.set(b, at);
    at += b.length;
  }
  return out;
}
