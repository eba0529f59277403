/**
 * Random but raft-plausible call sequences for the differential tests: small segment sizes,
 * entries from empty to a few hundred KB, nil vs empty data, overwrites of earlier indexes with
 * a new term, state-only saves (no sync), snapshots, syncs, lock releases and close/re-open.
 */
import * as path from 'node:path';
import { prng } from '../../support/prng';
import type { DataSpec, EntrySpec, Op } from './script';

const SEGMENT_SIZES = [512, 1000, 4096, 20_000, 65_536, 300_000];

/** One random sequence writing `dir`; ends closed. Total payload is kept to a few MB. */
export function randomSequence(seed: number, dir: string): Op[] {
  const rnd = prng(seed);
  const int = (lo: number, hi: number): number => lo + Math.floor(rnd() * (hi - lo + 1));
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
  const segmentSize = pick(SEGMENT_SIZES);
  let genSeed = seed * 7919;
  const data = (): DataSpec => {
    const r = rnd();
    if (r < 0.1) return null;
    if (r < 0.15) return { b64: '' };
    const size = r < 0.8 ? int(0, 300) : r < 0.97 ? int(1000, 20_000) : int(50_000, 300_000);
    return { gen: [++genSeed, size] };
  };
  const ops: Op[] = [];
  const metadata: DataSpec = rnd() < 0.2 ? null : { gen: [seed, int(0, 100)] };
  ops.push({ op: 'create', dir, metadata, segmentSize });
  let last = 0;
  let term = 1;
  let vote = int(1, 3);
  let commit = 0;
  const snaps: { index: number; term: number }[] = [{ index: 0, term: 0 }];
  const termOf = new Map<number, number>();
  let budget = 3_000_000;
  const steps = int(5, 60);
  for (let s = 0; s < steps && budget > 0; s++) {
    const r = rnd();
    if (r < 0.6) {
      const entries: EntrySpec[] = [];
      const count = rnd() < 0.15 ? 0 : int(1, 12);
      let start = last + 1;
      if (count > 0 && last > 0 && rnd() < 0.12) {
        // raft log overwrite: a new leader replaces uncommitted entries
        start = int(Math.max(commit + 1, last - 5), last);
        if (start < 1) start = 1;
        term++;
      }
      for (let i = 0; i < count; i++) {
        const d = data();
        if (d !== null && 'gen' in d) budget -= d.gen[1];
        entries.push({ term: String(term), index: String(start + i), type: rnd() < 0.1 ? 1 : 0, data: d });
        termOf.set(start + i, term);
      }
      if (count > 0) last = start + count - 1;
      if (rnd() < 0.3) commit = int(commit, last);
      if (rnd() < 0.05) vote = int(1, 3);
      const empty = rnd() < 0.1;
      const state = empty ? { term: '0', vote: '0', commit: '0' } : { term: String(term), vote: String(vote), commit: String(commit) };
      ops.push({ op: 'save', state, entries });
    } else if (r < 0.7) {
      if (last > 0) {
        const index = int(Math.max(1, commit - 3), Math.max(1, commit));
        if (index <= last) {
          const t = termOf.get(index) ?? term;
          ops.push({ op: 'saveSnapshot', index: String(index), term: String(t) });
          snaps.push({ index, term: t });
        }
      }
    } else if (r < 0.78) {
      ops.push({ op: 'sync' });
    } else if (r < 0.85) {
      ops.push({ op: 'releaseLockTo', index: String(int(0, last + 2)) });
    } else if (r < 0.93) {
      // state-only save, commit moves: MustSync is false
      commit = int(commit, last);
      ops.push({ op: 'save', state: { term: String(term), vote: String(vote), commit: String(commit) }, entries: [] });
    } else {
      const snap = pick(snaps);
      ops.push({ op: 'close' });
      ops.push({ op: 'open', dir, index: String(snap.index), term: String(snap.term), segmentSize });
      ops.push({ op: 'readAll' });
    }
  }
  ops.push({ op: 'close' });
  return ops;
}

/** Sequences for `count` seeds, each in its own directory under `root`. */
export function randomSequences(firstSeed: number, count: number, root: string): { dirs: string[]; ops: Op[] } {
  const dirs: string[] = [];
  const ops: Op[] = [];
  for (let i = 0; i < count; i++) {
    const dir = path.join(root, `seq-${firstSeed + i}`, 'wal');
    dirs.push(dir);
    ops.push(...randomSequence(firstSeed + i, dir));
  }
  return { dirs, ops };
}
