/**
 * Runs a recovery check over the crash states of a recorded history: each distinct state is
 * written into a scratch directory (on /dev/shm when there is one: states are small and many),
 * handed to `check`, then removed. Failures carry the state's position and how it was chosen,
 * so they can be reproduced.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { type CrashState, type RecordingIo, materialise, treeKey } from './recording-io';

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
