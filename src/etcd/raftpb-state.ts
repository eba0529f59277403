/**
 * raftpb.HardState, raftpb.ConfState and walpb.Snapshot: the state messages of etcd's WAL,
 * byte-exact with etcd 3.4's gogoproto code (see codec.ts for the rules every message follows).
 */
import { putUvarint, putUvarintBig, uvarintSize, uvarintSizeBig } from '../codec/varint';
import { WalError, WalErrorCodes } from '../errors';
import { type DecodeRules, PbReader, checkU64 } from './pb-reader';

/** raftpb.HardState. All-zero is "empty" and is never written by `save`. */
export interface HardState {
  term: bigint;
  vote: bigint;
  commit: bigint;
}

/** raftpb.ConfState (written inside snapshot records by etcd 3.5+). */
export interface ConfState {
  voters: bigint[];
  learners: bigint[];
  votersOutgoing: bigint[];
  learnersNext: bigint[];
  autoLeave: boolean;
}

/** walpb.Snapshot. `confState` present = field 3 emitted (etcd 3.5+ style). */
export interface Snapshot {
  index: bigint;
  term: bigint;
  confState?: ConfState;
}

/** The HardState etcd calls empty. */
export const EMPTY_HARD_STATE: Readonly<HardState> = Object.freeze({ term: 0n, vote: 0n, commit: 0n });

/** raft.IsEmptyHardState. */
export function isEmptyHardState(st: HardState): boolean {
  return st.term === 0n && st.vote === 0n && st.commit === 0n;
}

// ---------------------------------------------------------------------------------------------
// raftpb.HardState

/** Marshals raftpb.HardState (all three fields always emitted). */
export function encodeHardState(st: HardState): Uint8Array {
  checkU64(st.term, 'state.term');
  checkU64(st.vote, 'state.vote');
  checkU64(st.commit, 'state.commit');
  const out = new Uint8Array(3 + uvarintSizeBig(st.term) + uvarintSizeBig(st.vote) + uvarintSizeBig(st.commit));
  let pos = 0;
  out[pos++] = 0x08;
  pos = putUvarintBig(out, pos, st.term);
  out[pos++] = 0x10;
  pos = putUvarintBig(out, pos, st.vote);
  out[pos++] = 0x18;
  putUvarintBig(out, pos, st.commit);
  return out;
}

/** Unmarshals raftpb.HardState; absent fields are 0. */
export function decodeHardState(buf: Uint8Array): HardState {
  const r = new PbReader(buf, 'raftpb.HardState');
  const st: HardState = { term: 0n, vote: 0n, commit: 0n };
  while (!r.done) {
    const [fn, wt] = r.tag();
    if (fn >= 1 && fn <= 3) {
      r.expectWire(wt, 0, fn);
      const v = r.varintBig();
      if (fn === 1) st.term = v;
      else if (fn === 2) st.vote = v;
      else st.commit = v;
    } else {
      r.skip(wt, fn);
    }
  }
  return st;
}

// ---------------------------------------------------------------------------------------------
// raftpb.ConfState

function confStateSize(cs: ConfState): number {
  let n = 2; // auto_leave, always emitted
  for (const list of [cs.voters, cs.learners, cs.votersOutgoing, cs.learnersNext]) {
    for (const v of list) n += 1 + uvarintSizeBig(v);
  }
  return n;
}

function putConfState(buf: Uint8Array, pos: number, cs: ConfState): number {
  const lists: [number, bigint[]][] = [
    [0x08, cs.voters],
    [0x10, cs.learners],
    [0x18, cs.votersOutgoing],
    [0x20, cs.learnersNext],
  ];
  for (const [tag, list] of lists) {
    for (const v of list) {
      buf[pos++] = tag;
      pos = putUvarintBig(buf, pos, v);
    }
  }
  buf[pos++] = 0x28;
  buf[pos++] = cs.autoLeave ? 1 : 0;
  return pos;
}

function checkConfState(cs: ConfState): void {
  if (cs === null || typeof cs !== 'object') {
    throw new WalError(WalErrorCodes.INVALID_ARGUMENT, 'confState must be an object');
  }
  for (const name of ['voters', 'learners', 'votersOutgoing', 'learnersNext'] as const) {
    const list = cs[name];
    if (!Array.isArray(list)) throw new WalError(WalErrorCodes.INVALID_ARGUMENT, `confState.${name} must be an array`);
    for (const v of list) checkU64(v, `confState.${name}[]`);
  }
  if (typeof cs.autoLeave !== 'boolean') {
    throw new WalError(WalErrorCodes.INVALID_ARGUMENT, 'confState.autoLeave must be a boolean');
  }
}

/** Marshals raftpb.ConfState (repeated fields unpacked, auto_leave always emitted). */
export function encodeConfState(cs: ConfState): Uint8Array {
  checkConfState(cs);
  const out = new Uint8Array(confStateSize(cs));
  putConfState(out, 0, cs);
  return out;
}

/** Unmarshals raftpb.ConfState; accepts packed encodings of the repeated fields too. */
export function decodeConfState(buf: Uint8Array): ConfState {
  const r = new PbReader(buf, 'raftpb.ConfState');
  const cs: ConfState = { voters: [], learners: [], votersOutgoing: [], learnersNext: [], autoLeave: false };
  const lists = [cs.voters, cs.learners, cs.votersOutgoing, cs.learnersNext];
  while (!r.done) {
    const [fn, wt] = r.tag();
    if (fn >= 1 && fn <= 4) {
      const list = lists[fn - 1]!;
      if (wt === 0) {
        list.push(r.varintBig());
      } else if (wt === 2) {
        const packed = new PbReader(r.bytes(), 'raftpb.ConfState (packed)');
        while (!packed.done) list.push(packed.varintBig());
      } else {
        r.expectWire(wt, 0, fn);
      }
    } else if (fn === 5) {
      r.expectWire(wt, 0, fn);
      cs.autoLeave = r.varintBig() !== 0n;
    } else {
      r.skip(wt, fn);
    }
  }
  return cs;
}

// ---------------------------------------------------------------------------------------------
// walpb.Snapshot

/** Validates a Snapshot supplied by a caller. */
export function checkSnapshot(s: Snapshot): void {
  if (s === null || typeof s !== 'object') throw new WalError(WalErrorCodes.INVALID_ARGUMENT, 'snapshot must be an object');
  checkU64(s.index, 'snapshot.index');
  checkU64(s.term, 'snapshot.term');
  if (s.confState !== undefined) checkConfState(s.confState);
}

/** Marshals walpb.Snapshot: `08 index 10 term`, plus field 3 when `confState` is given (etcd 3.5+). */
export function encodeSnapshot(s: Snapshot): Uint8Array {
  checkSnapshot(s);
  let n = 2 + uvarintSizeBig(s.index) + uvarintSizeBig(s.term);
  let csLen = 0;
  if (s.confState !== undefined) {
    csLen = confStateSize(s.confState);
    n += 1 + uvarintSize(csLen) + csLen;
  }
  const out = new Uint8Array(n);
  let pos = 0;
  out[pos++] = 0x08;
  pos = putUvarintBig(out, pos, s.index);
  out[pos++] = 0x10;
  pos = putUvarintBig(out, pos, s.term);
  if (s.confState !== undefined) {
    out[pos++] = 0x1a;
    pos = putUvarint(out, pos, csLen);
    putConfState(out, pos, s.confState);
  }
  return out;
}

/** Unmarshals walpb.Snapshot (with conf_state when present). */
export function decodeSnapshot(buf: Uint8Array, rules?: DecodeRules): Snapshot {
  const r = new PbReader(buf, 'walpb.Snapshot', rules?.lenient);
  const s: Snapshot = { index: 0n, term: 0n };
  while (!r.done) {
    const [fn, wt] = r.tag();
    if ((fn === 1 || fn === 2) && r.wireIs(wt, 0, fn)) {
      const v = r.varintBig();
      if (fn === 1) s.index = v;
      else s.term = v;
    } else if (fn === 3 && !r.lenient) {
      r.expectWire(wt, 2, fn);
      s.confState = decodeConfState(r.bytes());
    } else {
      // The lenient rules read index and term only: conf_state is skipped like an unknown field.
      r.skip(wt, fn);
    }
  }
  return s;
}
