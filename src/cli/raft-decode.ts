/**
 * Human-readable decoding of raft entry payloads for `wal dump`: raftpb.ConfChange (type 1) and
 * raftpb.ConfChangeV2 (type 2). The library's codec does not need these messages, so this is a
 * small read-only protobuf walker; anything malformed yields null and the raw bytes are shown.
 */
import { getUvarintBig, scanUvarint } from '../codec/varint';

const CONF_CHANGE_TYPES = ['AddNode', 'RemoveNode', 'UpdateNode', 'AddLearnerNode'];
const TRANSITIONS = ['Auto', 'Implicit', 'Explicit'];

/** raft.EntryType names. */
export function entryTypeName(type: number): string {
  return type === 0 ? 'normal' : type === 1 ? 'conf-change' : type === 2 ? 'conf-change-v2' : `type-${type}`;
}

/** A decoded configuration change. */
export interface ConfChangeInfo {
  /** e.g. "AddNode 2" or "AddLearnerNode 4, RemoveNode 3". */
  summary: string;
  changes: { type: string; nodeId: bigint }[];
  id?: bigint;
  transition?: string;
  contextBytes: number;
}

/** One protobuf field: number, wire type, and its varint value or length-delimited bytes. */
export type Field = { fn: number; wt: number; v?: bigint; bytes?: Uint8Array };

/** The fields of a protobuf message (fixed32/64 values skipped), or null when it does not parse. */
export function fields(buf: Uint8Array): Field[] | null {
  const out: Field[] = [];
  let pos = 0;
  const varint = (): bigint | null => {
    const next = scanUvarint(buf, pos, buf.length);
    if (next < 0) return null;
    const v = getUvarintBig(buf, pos);
    pos = next;
    return v;
  };
  while (pos < buf.length) {
    const tag = varint();
    if (tag === null) return null;
    const fn = Number(tag >> 3n);
    const wt = Number(tag & 7n);
    if (fn <= 0) return null;
    if (wt === 0) {
      const v = varint();
      if (v === null) return null;
      out.push({ fn, wt, v });
    } else if (wt === 2) {
      const len = varint();
      if (len === null || len > BigInt(buf.length - pos)) return null;
      out.push({ fn, wt, bytes: buf.subarray(pos, pos + Number(len)) });
      pos += Number(len);
    } else if (wt === 1 || wt === 5) {
      const n = wt === 1 ? 8 : 4;
      if (pos + n > buf.length) return null;
      pos += n;
    } else return null;
  }
  return out;
}

/** Raft node ids are shown in hex, as etcd prints member ids, with the 0x that says so. */
export const nodeId = (id: bigint): string => `0x${id.toString(16)}`;

const typeName = (v: bigint | undefined): string => CONF_CHANGE_TYPES[Number(v ?? 0n)] ?? `ConfChangeType(${v})`;

/** raftpb.ConfChange: id=1, type=2, node_id=3, context=4. */
export function decodeConfChange(data: Uint8Array): ConfChangeInfo | null {
  const fs = fields(data);
  if (fs === null) return null;
  let id = 0n;
  let type = 0n;
  let node = 0n;
  let ctx = 0;
  for (const f of fs) {
    if (f.fn === 1 && f.v !== undefined) id = f.v;
    else if (f.fn === 2 && f.v !== undefined) type = f.v;
    else if (f.fn === 3 && f.v !== undefined) node = f.v;
    else if (f.fn === 4 && f.bytes !== undefined) ctx = f.bytes.length;
  }
  const changes = [{ type: typeName(type), nodeId: node }];
  return { summary: `${typeName(type)} ${nodeId(node)}`, changes, id, contextBytes: ctx };
}

/** raftpb.ConfChangeV2: transition=1, changes=2 (ConfChangeSingle: type=1, node_id=2), context=3. */
export function decodeConfChangeV2(data: Uint8Array): ConfChangeInfo | null {
  const fs = fields(data);
  if (fs === null) return null;
  let transition = 0n;
  let ctx = 0;
  const changes: { type: string; nodeId: bigint }[] = [];
  for (const f of fs) {
    if (f.fn === 1 && f.v !== undefined) transition = f.v;
    else if (f.fn === 3 && f.bytes !== undefined) ctx = f.bytes.length;
    else if (f.fn === 2 && f.bytes !== undefined) {
      const sub = fields(f.bytes);
      if (sub === null) return null;
      let t = 0n;
      let n = 0n;
      for (const s of sub) {
        if (s.fn === 1 && s.v !== undefined) t = s.v;
        else if (s.fn === 2 && s.v !== undefined) n = s.v;
      }
      changes.push({ type: typeName(t), nodeId: n });
    }
  }
  const tr = TRANSITIONS[Number(transition)] ?? `Transition(${transition})`;
  const list = changes.map((c) => `${c.type} ${nodeId(c.nodeId)}`).join(', ');
  return { summary: `${list || 'leave joint'} (transition ${tr})`, changes, transition: tr, contextBytes: ctx };
}
