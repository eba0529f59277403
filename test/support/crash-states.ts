/**
 * Runs a recovery check over the crash states of a recorded history: each distinct state is
 * written into a scratch directory (on /dev/shm when there is one: states are small and many),
 * handed to `check`, then removed. Failures carry the state's position and how it was chosen,
 * so they can be reproduced.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { defaultBackend } from '../../src/io/backend';
import { type CrashState, RecordingIo, materialise, treeKey } from './recording-io';

/** A scratch directory on a memory filesystem when available, removed at exit. */
export function scratchDir(prefix: string): string {
  const base = fs.existsSync('/dev/shm') && fs.statSync('/dev/shm').isDirectory() ? '/dev/shm' : os.tmpdir();
  const dir = fs.mkdtempSync(path.join(base, prefix));
  process.on('exit', () => {
    if (!process.env['KEEP_TMP']) fs.rmSync(dir, { recursive: true, force: true });
  });
  return dir;
}

let slotCounter = 0;

export interface CrashRunResult {
  /** Distinct states checked. */
  checked: number;
  /** States generated (duplicates included). */
  generated: number;
}

/**
 * Checks up to `limit` distinct crash states of `rec`'s history. `check(dir, state)` gets a
 * directory holding the state (the same layout as under the recorder's root) and must throw on a
 * violated invariant.
 */
export async function checkCrashStates(opts: {
  rec: RecordingIo;
  scratch: string;
  variants: number;
  seed: number;
  limit: number;
  check: (dir: string, state: CrashState) => Promise<void>;
  seen?: Set<string>;
  /** Only every `every`-th prefix of the history (and its end): spreads `limit` over a long history. */
  every?: number;
}): Promise<CrashRunResult> {
  const seen = opts.seen ?? new Set<string>();
  let checked = 0;
  let generated = 0;
  for (const state of opts.rec.crashStates({ variants: opts.variants, seed: opts.seed, every: opts.every ?? 1 })) {
    generated++;
    // Same tree and same acknowledgements: same verdict.
    const key = `${JSON.stringify(state.marks.length)}#${treeKey(state.tree)}`;
    if (seen.has(key)) continue;
    seen.add(key);
    const dir = path.join(opts.scratch, `s${slotCounter++}`);
    fs.mkdirSync(dir);
    try {
      materialise(state.tree, dir);
      await opts.check(dir, state);
    } catch (err) {
      const files = [...state.tree].map(([p, c]) => `${p}${c === null ? '/' : ` (${c.length} B)`}`).join(', ');
      const e = new Error(
        `crash state ${process.env['KEEP_TMP'] ? dir + ' ' : ''}at event ${state.at}/${opts.rec.history.length} (${state.how}; marks ${state.marks.length}; files: ${files}) failed: ${(err as Error)?.stack ?? String(err)}`,
      );
      throw e;
    } finally {
      if (!process.env['KEEP_TMP']) fs.rmSync(dir, { recursive: true, force: true });
    }
    checked++;
    if (checked >= opts.limit) break;
  }
  return { checked, generated };
}

/** A recorder over a fresh `root` under `scratch` (created, with `subdirs` inside it). */
export function newRecording(scratch: string, name: string, subdirs: string[] = []): { root: string; rec: RecordingIo } {
  const root = path.join(scratch, name);
  fs.mkdirSync(root);
  for (const sub of subdirs) fs.mkdirSync(path.join(root, sub), { recursive: true });
  return { root, rec: new RecordingIo(defaultBackend, root) };
}

export interface RoundsResult extends CrashRunResult {
  seconds: number;
}

/**
 * The power-loss suites' loop: records one workload per round (seed `firstSeed + round`) and
 * checks its crash states, until `states` distinct ones have been checked across all rounds.
 * `record` runs the workload against `rec` and returns the check for its states; at most
 * `perHistory` states come from one recording, so that more workloads get a turn.
 */
export async function checkRecordedRounds(opts: {
  prefix: string;
  states: number;
  firstSeed: number;
  variants: number;
  perHistory?: number;
  /** Spread each history's `perHistory` states over all of it (late events too), not its first prefixes. */
  spread?: boolean;
  subdirs?: string[];
  record: (rec: RecordingIo, root: string, seed: number, round: number) => Promise<(dir: string, state: CrashState) => Promise<void>>;
}): Promise<RoundsResult> {
  const scratch = scratchDir(opts.prefix);
  const seen = new Set<string>();
  let checked = 0;
  let generated = 0;
  const started = Date.now();
  for (let round = 0; checked < opts.states; round++) {
    const seed = opts.firstSeed + round;
    const { root, rec } = newRecording(scratch, `rec${round}`, opts.subdirs);
    const check = await opts.record(rec, root, seed, round);
    const limit = Math.min(opts.perHistory ?? Infinity, opts.states - checked);
    const every = opts.spread ? Math.max(1, Math.floor(rec.history.length / (limit / opts.variants))) : 1;
    const res = await checkCrashStates({ rec, scratch, variants: opts.variants, seed, seen, limit, check, every });
    checked += res.checked;
    generated += res.generated;
    fs.rmSync(root, { recursive: true, force: true });
  }
  return { checked, generated, seconds: (Date.now() - started) / 1000 };
}

/**
 * The invariant of every tail repair's crash states (WAL.repair, Log.open): once the tail segment
 * `tailName` in `dir` has lost any of its `damaged` bytes, `<tailName>.broken` holds all of them.
 */
export function assertBrokenCopyKept(dir: string, tailName: string, damaged: Buffer): void {
  const tail = fs.readFileSync(path.join(dir, tailName));
  const broken = path.join(dir, `${tailName}.broken`);
  if (tail.equals(damaged)) return;
  assert.ok(fs.existsSync(broken), 'the tail lost bytes: its .broken copy must be there');
  assert.ok(fs.readFileSync(broken).equals(damaged), '.broken holds the whole damaged segment');
}

/**
 * Whether a crash state left a Log in `logDir` (a `*.wal` segment). When it did not, the crash
 * came before the log existed: then no mark may say that `Log.open` had resolved.
 */
export function logSurvived(logDir: string, marks: readonly object[]): boolean {
  const hasSegment = fs.existsSync(logDir) && fs.readdirSync(logDir).some((n) => n.endsWith('.wal'));
  if (!hasSegment) assert.ok(!marks.some((m) => 'opened' in m), 'the log vanished after open() resolved');
  return hasSegment;
}
