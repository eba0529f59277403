/**
 * The directory lease: one writer per directory, whichever backend each process runs on
 * (docs/durability.md "One writer per directory" argues the design).
 *
 * Acquire is a compare-and-swap on the highest generation g present: judge g's holder, and if it
 * is gone, link generation g+1 (EEXIST: someone else won). The top generation is never deleted
 * while it could matter (release rewrites it in place as released), so a slow opener's stale view
 * can never succeed. A holder is gone when:
 *  - its lease says released;
 *  - same kernel (boot id) and the holder was native: its OFD lock on its lease file is free
 *    (native openers only; works across PID namespaces);
 *  - same kernel and PID namespace: its pid is not alive (or is a zombie, or is a recycled pid
 *    with another start time), or is our own pid with another start time (an earlier process:
 *    PID 1 restarting in a container); our own pid and start time is another thread of ours;
 *  - another boot of a machine with the same hostname, and it last renewed before this kernel
 *    booted (by more than its staleMs);
 *  - otherwise (another PID namespace, another host on a network filesystem) only when it was
 *    seen not to renew for its staleMs, watched on our monotonic clock; the taker then waits
 *    staleMs/2 + renewMs before using the directory, by which time a stalled holder either
 *    re-confirmed and saw the new generation, or stopped writing (see assertHeld).
 * The holder renews (utimes) every renewMs on an unref'd timer and checks no higher generation
 * exists; before each write batch the owner calls assertHeld(), a monotonic-clock compare that
 * confirms synchronously only when the last confirmation is older than staleMs/2.
 */
import { randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { WalError, WalErrorCodes } from '../errors';
import type { IoBackend, WalFile } from '../io/types';
import { processAlive, selfIdentity } from './identity';
import {
  draftPath,
  generationPath,
  listGenerations,
  listGenerationsSync,
  readLeaseFile,
  writeDraft,
  type LeaseContent,
  type LeaseSpot,
} from './lease-file';
import type { ResolvedLockOptions } from './options';

/** Tokens of leases this thread holds or is creating: another open of ours is never "dead". */
const ownTokens = new Set<string>();
/** Tokens this thread released, in case the released mark could not be written. */
const releasedTokens = new Set<string>();

/** Bounds applied to the timings a foreign lease file declares, so a damaged one cannot stall us forever. */
const MAX_DECLARED_MS = 10 * 60 * 1000;

/** A generation file at the top, as read. */
interface Top {
  generation: number;
  path: string;
  content: LeaseContent | null;
}

type Verdict = { kind: 'free'; why: string } | { kind: 'live'; why: string } | { kind: 'watch' };

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

function clampMs(v: unknown, fallback: number): number {
  return typeof v === 'number' && Number.isFinite(v) && v >= 1 ? Math.min(v, MAX_DECLARED_MS) : fallback;
}

function describe(c: LeaseContent | null): string {
  if (c === null) return 'an unreadable lease file';
  return `pid ${c.pid} on ${c.hostname} (${c.backend} backend, since ${c.acquiredAt})`;
}

function lockedError(what: string, top: Top, why: string): WalError {
  return new WalError(WalErrorCodes.LOCKED, `${what} is locked by another writer: ${describe(top.content)}; ${why}`, {
    file: top.path,
  });
}

async function readTop(spot: LeaseSpot): Promise<Top | null> {
  const gens = await listGenerations(spot);
  const generation = gens[gens.length - 1];
  if (generation === undefined) return null;
  const file = generationPath(spot, generation);
  const content = await readLeaseFile(file);
  if (content === 'gone') return readTop(spot); // abandoned meanwhile: look again
  return { generation, path: file, content };
}

/** Native openers only: whether the holder's OFD lock on its lease file is still held. */
async function ofdHeld(io: IoBackend, file: string): Promise<boolean | null> {
  let f: WalFile;
  try {
    f = await io.open(file, { read: true, write: true });
  } catch {
    return null;
  }
  try {
    await f.lock({ wait: false });
    return false;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EAGAIN' ? true : null;
  } finally {
    await f.close().catch(() => undefined);
  }
}

async function judge(top: Top, io: IoBackend): Promise<Verdict> {
  const c = top.content;
  if (c === null) return { kind: 'watch' };
  if (c.released === true || releasedTokens.has(c.token)) return { kind: 'free', why: 'released' };
  if (ownTokens.has(c.token)) return { kind: 'live', why: 'held by another open in this process' };
  const me = selfIdentity();
  if (c.bootId !== null && c.bootId === me.bootId) {
    if (c.backend === 'native' && io.kind === 'native') {
      const held = await ofdHeld(io, top.path);
      if (held === false) return { kind: 'free', why: 'its OFD lock is free' };
      if (held === true) return { kind: 'live', why: 'its OFD lock is held' };
    }
    if (c.pidNamespace !== null && c.pidNamespace === me.pidNamespace) {
      if (c.pid === me.pid) {
        // Our pid: this very process (another worker thread: tokens are per thread) when the start
        // time matches; otherwise an earlier process that had our pid (PID 1 restarting).
        if (c.startTime !== null && c.startTime === me.startTime) return { kind: 'live', why: 'held by another thread of this process' };
        return { kind: 'free', why: 'our own pid, left by an earlier process' };
      }
      return processAlive(c.pid, c.startTime)
        ? { kind: 'live', why: 'the process is alive' }
        : { kind: 'free', why: 'the process is gone' };
    }
    return { kind: 'watch' };
  }
  if (c.hostname === me.hostname && c.bootId !== me.bootId) {
    const bootedAt = Date.now() - os.uptime() * 1000;
    const renewedAt = (await fsp.lstat(top.path).catch(() => null))?.mtimeMs;
    if (renewedAt !== undefined && renewedAt < bootedAt - clampMs(c.staleMs, 0)) {
      return { kind: 'free', why: 'it last renewed before this machine booted' };
    }
  }
  return { kind: 'watch' };
}

/** A stat that changes at every renewal (utimes sets ctime with nanoseconds) and at every replacement. */
async function renewalMark(file: string): Promise<string | null> {
  try {
    const st = await fsp.lstat(file, { bigint: true });
    return `${st.ino}:${st.ctimeNs}:${st.mtimeNs}`;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}

/**
 * Watches the top for the holder's declared staleMs: 'renewed' as soon as it changes, 'moved' when
 * another generation appeared or it vanished (look again), 'stale' when it stood still throughout.
 */
async function watch(spot: LeaseSpot, top: Top, fallback: ResolvedLockOptions): Promise<'renewed' | 'moved' | 'stale'> {
  const renewMs = clampMs(top.content?.renewMs, fallback.renewMs);
  const staleMs = clampMs(top.content?.staleMs, fallback.staleMs);
  const pollMs = Math.max(1, Math.min(250, Math.floor(renewMs / 4)));
  const first = await renewalMark(top.path);
  if (first === null) return 'moved';
  const deadline = performance.now() + staleMs;
  while (performance.now() < deadline) {
    await sleep(pollMs);
    const gens = await listGenerations(spot);
    if (gens[gens.length - 1] !== top.generation) return 'moved';
    const mark = await renewalMark(top.path);
    if (mark === null) return 'moved';
    if (mark !== first) {
      const again = await readTop(spot);
      // Replaced by a released marker (or otherwise rewritten): judge it afresh.
      return again?.generation === top.generation && again.content?.released !== true && again.content?.token === top.content?.token
        ? 'renewed'
        : 'moved';
    }
  }
  return 'stale';
}

/** Drafts live for milliseconds; one older than this was left by an opener killed mid-acquire. */
const DRAFT_ABANDONED_MS = 60_000;

async function removeOldDrafts(spot: LeaseSpot): Promise<void> {
  const prefix = `${spot.base}-draft.`;
  for (const name of await fsp.readdir(spot.dir)) {
    if (!name.startsWith(prefix) || !name.endsWith('.tmp')) continue;
    const file = path.join(spot.dir, name);
    const st = await fsp.stat(file).catch(() => null);
    if (st !== null && Date.now() - st.mtimeMs > DRAFT_ABANDONED_MS) await fsp.unlink(file).catch(() => undefined);
  }
}

export interface AcquireOptions extends ResolvedLockOptions {
  io: IoBackend;
  /** What is locked, for messages ('the log', 'the WAL', ...). */
  what: string;
}

/** The lease held on one directory (or file) by this process. */
export class Lease {
  private lost: WalError | null = null;
  private lastConfirmed: number;
  private readonly confirmLimit: number;
  private timer: NodeJS.Timeout | null = null;
  private renewing = false;
  private paused = false;
  private done = false;

  private constructor(
    private readonly spot: LeaseSpot,
    readonly generation: number,
    private readonly content: LeaseContent,
    /** Native: the open lease file whose OFD lock says we are alive. */
    private ofdFile: WalFile | null,
    private readonly opts: AcquireOptions,
  ) {
    this.lastConfirmed = performance.now();
    this.confirmLimit = opts.staleMs / 2;
    this.timer = setInterval(() => void this.renew(), opts.renewMs);
    this.timer.unref();
  }

  /** The generation file this lease is. */
  get path(): string {
    return generationPath(this.spot, this.generation);
  }

  /**
   * Takes the lease or throws ERR_WAL_LOCKED. Creates nothing when refused. May take up to the
   * holder's staleMs * 1.5 + renewMs when the holder can only be judged by its renewals.
   */
  static async acquire(spot: LeaseSpot, opts: AcquireOptions): Promise<Lease> {
    const token = randomUUID();
    ownTokens.add(token);
    try {
      for (let attempt = 0; ; attempt++) {
        ownTokens.add(token); // again: a lost race's abandon() dropped it
        const top = await readTop(spot);
        let watched = false;
        if (top !== null) {
          const verdict = await judge(top, opts.io);
          if (verdict.kind === 'live') throw lockedError(opts.what, top, verdict.why);
          if (verdict.kind === 'watch') {
            const seen = await watch(spot, top, opts);
            if (seen === 'renewed') throw lockedError(opts.what, top, 'it renews its lease');
            if (seen === 'moved') continue;
            watched = true;
          }
        }
        if (attempt >= 20) {
          throw new WalError(WalErrorCodes.LOCKED, `${opts.what} is contended: gave up after ${attempt} attempts`, { file: spot.dir });
        }
        const next = (top?.generation ?? 0) + 1;
        if (!Number.isSafeInteger(next)) {
          throw new WalError(WalErrorCodes.LOCKED, `${opts.what}: lease generation ${top!.generation} cannot grow`, { file: top!.path });
        }
        const lease = await Lease.tryCreate(spot, next, token, top, watched, opts);
        if (lease !== null) return lease;
      }
    } catch (err) {
      ownTokens.delete(token);
      throw err;
    }
  }

  /** Links generation `generation`; null when a racer won (look again). */
  private static async tryCreate(
    spot: LeaseSpot,
    generation: number,
    token: string,
    previous: Top | null,
    watched: boolean,
    opts: AcquireOptions,
  ): Promise<Lease | null> {
    const me = selfIdentity();
    const content: LeaseContent = {
      v: 1,
      token,
      pid: me.pid,
      hostname: me.hostname,
      bootId: me.bootId,
      pidNamespace: me.pidNamespace,
      startTime: me.startTime,
      backend: opts.io.kind,
      renewMs: opts.renewMs,
      staleMs: opts.staleMs,
      acquiredAt: new Date().toISOString(),
    };
    const draft = draftPath(spot, token);
    const target = generationPath(spot, generation);
    let ofdFile: WalFile | null = null;
    let linked = false;
    try {
      await writeDraft(draft, content, true);
      if (opts.io.kind === 'native') {
        // Locked before it is visible, so no native opener ever sees it unlocked while we live.
        ofdFile = await opts.io.open(draft, { read: true, write: true });
        await ofdFile.lock({ wait: false });
      }
      try {
        await fsp.link(draft, target);
        linked = true;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
        // NFS: a retried link whose first attempt succeeded reports EEXIST; the content says who won.
        const there = await readLeaseFile(target);
        linked = there !== null && there !== 'gone' && there.token === token;
      }
      await fsp.unlink(draft);
    } catch (err) {
      if (linked) await fsp.unlink(target).catch(() => undefined);
      await fsp.unlink(draft).catch(() => undefined);
      await ofdFile?.close().catch(() => undefined);
      throw err;
    }
    if (!linked) {
      await ofdFile?.close().catch(() => undefined);
      return null;
    }
    // Renewing from here on, so nobody watching us during the grace below takes us for dead.
    const lease = new Lease(spot, generation, content, ofdFile, opts);
    try {
      if (watched && previous !== null) {
        // A stalled holder may write until its confirmation is staleMs/2 old: let that pass.
        const c = previous.content;
        await sleep(clampMs(c?.staleMs, opts.staleMs) / 2 + clampMs(c?.renewMs, opts.renewMs));
      }
      const gens = await listGenerations(spot);
      if (gens[gens.length - 1] === generation) return lease;
    } catch (err) {
      await lease.abandon();
      throw err;
    }
    // A racer linked a higher generation from a later view: ours is not the top, drop it.
    await lease.abandon();
    return null;
  }

  /**
   * Call before every write batch: throws ERR_WAL_LOCKED once the lease was lost. Costs a clock
   * read; confirms synchronously (readdir + utimes) only when the timer has not done so within
   * staleMs/2, e.g. after the event loop was blocked.
   */
  assertHeld(): void {
    if (this.lost !== null) throw this.lost;
    if (this.done) throw new WalError(WalErrorCodes.CLOSED, 'the lease was released', { file: this.path });
    if (performance.now() - this.lastConfirmed <= this.confirmLimit) return;
    const started = performance.now();
    try {
      this.checkTop(listGenerationsSync(this.spot));
      if (this.lost !== null) throw this.lost;
      const now = new Date();
      fs.utimesSync(this.path, now, now);
    } catch (err) {
      if (this.lost !== null) throw this.lost;
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw this.loseTo('our lease file is gone');
      throw new WalError(WalErrorCodes.IO, `cannot confirm the directory lease: ${(err as Error).message}`, {
        file: this.path,
        cause: err,
      });
    }
    this.lastConfirmed = started;
  }

  /**
   * Runs `move`, which replaces the leased directory by `replacement` (etcd's Create renames a
   * temporary directory into place): our generation is hard-linked into `replacement` first, and
   * renewal pauses meanwhile, so the lease is never absent from the directory that ends up there.
   */
  async moveWith(replacement: string, move: () => Promise<void>): Promise<void> {
    this.paused = true;
    try {
      await fsp.link(this.path, path.join(replacement, path.basename(this.path)));
      await move();
    } finally {
      this.paused = false;
    }
  }

  /**
   * Failed open, or a short job done (repair): removes our generation, leaving the lease files as
   * they were before acquire. Safe because nothing older was removed while we held it, so the top
   * goes back to exactly what every other opener could have judged before.
   */
  async abandon(): Promise<void> {
    if (this.done) return;
    this.stop();
    await fsp.unlink(this.path).catch(() => undefined);
    await this.ofdFile?.close().catch(() => undefined);
    this.ofdFile = null;
  }

  /**
   * Close: marks our generation released in place (never removed: see the header) and drops older
   * ones. Never throws: when the mark cannot be written (a full or read-only disk) the generation
   * is removed instead — safe, as for abandon(), because nothing older was dropped yet — and this
   * thread remembers the token as released, for the case where even that fails.
   */
  async release(): Promise<void> {
    if (this.done) return;
    this.stop();
    releasedTokens.add(this.content.token);
    try {
      const gens = await listGenerations(this.spot);
      if (this.lost === null && gens[gens.length - 1] === this.generation) {
        const draft = draftPath(this.spot, this.content.token);
        try {
          // Not synced: lost with a power cut, the lease is still judged free by its boot id.
          await writeDraft(draft, { ...this.content, released: true }, false);
          await fsp.rename(draft, this.path);
        } catch {
          await fsp.unlink(draft).catch(() => undefined);
          await fsp.unlink(this.path).catch(() => undefined);
          return;
        }
        for (const g of gens) if (g < this.generation) await fsp.unlink(generationPath(this.spot, g)).catch(() => undefined);
        await removeOldDrafts(this.spot);
      }
    } catch {
      // Listing failed: the lease file stays as it is; releasedTokens covers this thread.
    } finally {
      await this.ofdFile?.close().catch(() => undefined);
      this.ofdFile = null;
    }
  }

  private stop(): void {
    this.done = true;
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    ownTokens.delete(this.content.token);
  }

  private loseTo(why: string): WalError {
    this.lost ??= new WalError(
      WalErrorCodes.LOCKED,
      `${this.opts.what}: the directory lease was lost (${why}); another writer took over after this process failed to renew for ${this.opts.staleMs} ms; refusing further writes`,
      { file: this.path },
    );
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    return this.lost;
  }

  private checkTop(gens: readonly number[]): void {
    const top = gens[gens.length - 1];
    if (top === undefined || !gens.includes(this.generation)) this.loseTo('our lease file is gone');
    else if (top > this.generation) this.loseTo(`generation ${top} exists`);
  }

  private async renew(): Promise<void> {
    if (this.renewing || this.paused || this.done || this.lost !== null) return;
    this.renewing = true;
    const started = performance.now();
    try {
      this.checkTop(await listGenerations(this.spot));
      if (this.lost !== null || this.done) return;
      const now = new Date();
      await fsp.utimes(this.path, now, now);
      this.lastConfirmed = started;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') this.loseTo('our lease file is gone');
      // Other errors: not confirmed; assertHeld confirms synchronously once the last one is too old.
    } finally {
      this.renewing = false;
    }
  }
}
