/**
 * Decodes the payload of an etcd server's normal raft entry, as `etcd-dump-logs` does: a v3
 * `etcdserverpb.InternalRaftRequest` (put, delete range, txn, compaction, leases, alarms, auth,
 * cluster membership) or a v2 `etcdserverpb.Request`. Field numbers are those of etcd 3.4/3.5's
 * raft_internal.proto, rpc.proto, etcdserver.proto and auth.proto. Read-only and strict: a payload
 * with an unknown field or an unexpected wire type is not a request (null), so arbitrary
 * application data (a nodewal Log's records) is shown as bytes, not as a made-up request.
 */
import { escapeBytes } from './output';
import { fields } from './raft-decode';

type Scalar = 'uint' | 'int' | 'bool' | 'bytes' | 'string';
interface Spec {
  name: string;
  kind: Scalar | readonly string[] | Schema;
  repeated?: boolean;
}
type Schema = { readonly [fn: number]: Spec };

/** An enum value: shown bare (`result=EQUAL`), unlike strings, which are quoted. */
class EnumValue {
  constructor(readonly name: string) {}
  toJSON(): string {
    return this.name;
  }
}

/** A decoded message: field name -> bigint, boolean, string, Uint8Array, nested object, or arrays. */
export type Decoded = { [name: string]: unknown };

const KEY_RANGE: Schema = { 1: { name: 'key', kind: 'bytes' }, 2: { name: 'range_end', kind: 'bytes' } };
const RANGE: Schema = {
  ...KEY_RANGE,
  3: { name: 'limit', kind: 'int' },
  4: { name: 'revision', kind: 'int' },
  5: { name: 'sort_order', kind: ['NONE', 'ASCEND', 'DESCEND'] },
  6: { name: 'sort_target', kind: ['KEY', 'VERSION', 'CREATE', 'MOD', 'VALUE'] },
  7: { name: 'serializable', kind: 'bool' },
  8: { name: 'keys_only', kind: 'bool' },
  9: { name: 'count_only', kind: 'bool' },
  10: { name: 'min_mod_revision', kind: 'int' },
  11: { name: 'max_mod_revision', kind: 'int' },
  12: { name: 'min_create_revision', kind: 'int' },
  13: { name: 'max_create_revision', kind: 'int' },
};
const PUT: Schema = {
  1: { name: 'key', kind: 'bytes' },
  2: { name: 'value', kind: 'bytes' },
  3: { name: 'lease', kind: 'int' },
  4: { name: 'prev_kv', kind: 'bool' },
  5: { name: 'ignore_value', kind: 'bool' },
  6: { name: 'ignore_lease', kind: 'bool' },
};
const DELETE_RANGE: Schema = { ...KEY_RANGE, 3: { name: 'prev_kv', kind: 'bool' } };
const COMPARE: Schema = {
  1: { name: 'result', kind: ['EQUAL', 'GREATER', 'LESS', 'NOT_EQUAL'] },
  2: { name: 'target', kind: ['VERSION', 'CREATE', 'MOD', 'VALUE', 'LEASE'] },
  3: { name: 'key', kind: 'bytes' },
  4: { name: 'version', kind: 'int' },
  5: { name: 'create_revision', kind: 'int' },
  6: { name: 'mod_revision', kind: 'int' },
  7: { name: 'value', kind: 'bytes' },
  8: { name: 'lease', kind: 'int' },
  64: { name: 'range_end', kind: 'bytes' },
};
const REQUEST_OP: { [fn: number]: Spec } = {
  1: { name: 'request_range', kind: RANGE },
  2: { name: 'request_put', kind: PUT },
  3: { name: 'request_delete_range', kind: DELETE_RANGE },
};
const TXN: { [fn: number]: Spec } = {
  1: { name: 'compare', kind: COMPARE, repeated: true },
  2: { name: 'success', kind: REQUEST_OP, repeated: true },
  3: { name: 'failure', kind: REQUEST_OP, repeated: true },
};
REQUEST_OP[4] = { name: 'request_txn', kind: TXN }; // nested txns (etcd 3.3+)

const NAME: Schema = { 1: { name: 'name', kind: 'string' } };
const ROLE: Schema = { 1: { name: 'role', kind: 'string' } };
const PERMISSION: Schema = {
  1: { name: 'permType', kind: ['READ', 'WRITE', 'READWRITE'] },
  2: { name: 'key', kind: 'bytes' },
  3: { name: 'range_end', kind: 'bytes' },
};

/** InternalRaftRequest (raft_internal.proto); field 2 is the v2 Request in etcd 3.4. */
const INTERNAL: { [fn: number]: Spec } = {
  100: {
    name: 'header',
    kind: { 1: { name: 'ID', kind: 'uint' }, 2: { name: 'username', kind: 'string' }, 3: { name: 'auth_revision', kind: 'uint' } },
  },
  1: { name: 'ID', kind: 'uint' },
  3: { name: 'range', kind: RANGE },
  4: { name: 'put', kind: PUT },
  5: { name: 'delete_range', kind: DELETE_RANGE },
  6: { name: 'txn', kind: TXN },
  7: { name: 'compaction', kind: { 1: { name: 'revision', kind: 'int' }, 2: { name: 'physical', kind: 'bool' } } },
  8: { name: 'lease_grant', kind: { 1: { name: 'TTL', kind: 'int' }, 2: { name: 'ID', kind: 'int' } } },
  9: { name: 'lease_revoke', kind: { 1: { name: 'ID', kind: 'int' } } },
  10: {
    name: 'alarm',
    kind: {
      1: { name: 'action', kind: ['GET', 'ACTIVATE', 'DEACTIVATE'] },
      2: { name: 'memberID', kind: 'uint' },
      3: { name: 'alarm', kind: ['NONE', 'NOSPACE', 'CORRUPT'] },
    },
  },
  11: {
    name: 'lease_checkpoint',
    kind: {
      1: { name: 'checkpoints', kind: { 1: { name: 'ID', kind: 'int' }, 2: { name: 'remaining_TTL', kind: 'int' } }, repeated: true },
    },
  },
  1000: { name: 'auth_enable', kind: {} },
  1011: { name: 'auth_disable', kind: {} },
  1013: { name: 'auth_status', kind: {} },
  // The password is shown as it is stored; etcd-dump-logs prints it too.
  1012: {
    name: 'authenticate',
    kind: { 1: { name: 'name', kind: 'string' }, 2: { name: 'password', kind: 'string' }, 3: { name: 'simple_token', kind: 'string' } },
  },
  1100: {
    name: 'auth_user_add',
    kind: {
      1: { name: 'name', kind: 'string' },
      2: { name: 'password', kind: 'string' },
      3: { name: 'options', kind: { 1: { name: 'no_password', kind: 'bool' } } },
      4: { name: 'hashedPassword', kind: 'string' },
    },
  },
  1101: { name: 'auth_user_delete', kind: NAME },
  1102: { name: 'auth_user_get', kind: NAME },
  1103: {
    name: 'auth_user_change_password',
    kind: { 1: { name: 'name', kind: 'string' }, 2: { name: 'password', kind: 'string' }, 3: { name: 'hashedPassword', kind: 'string' } },
  },
  1104: { name: 'auth_user_grant_role', kind: { 1: { name: 'user', kind: 'string' }, 2: { name: 'role', kind: 'string' } } },
  1105: { name: 'auth_user_revoke_role', kind: { 1: { name: 'name', kind: 'string' }, 2: { name: 'role', kind: 'string' } } },
  1106: { name: 'auth_user_list', kind: {} },
  1107: { name: 'auth_role_list', kind: {} },
  1200: { name: 'auth_role_add', kind: NAME },
  1201: { name: 'auth_role_delete', kind: ROLE },
  1202: { name: 'auth_role_get', kind: ROLE },
  1203: { name: 'auth_role_grant_permission', kind: { 1: { name: 'name', kind: 'string' }, 2: { name: 'perm', kind: PERMISSION } } },
  1204: {
    name: 'auth_role_revoke_permission',
    kind: { 1: { name: 'role', kind: 'string' }, 2: { name: 'key', kind: 'bytes' }, 3: { name: 'range_end', kind: 'bytes' } },
  },
  1300: { name: 'cluster_version_set', kind: { 1: { name: 'ver', kind: 'string' } } },
  1301: {
    name: 'cluster_member_attr_set',
    kind: {
      1: { name: 'member_ID', kind: 'uint' },
      2: {
        name: 'member_attributes',
        kind: { 1: { name: 'name', kind: 'string' }, 2: { name: 'client_urls', kind: 'string', repeated: true } },
      },
    },
  },
  1302: { name: 'downgrade_info_set', kind: { 1: { name: 'enabled', kind: 'bool' }, 2: { name: 'ver', kind: 'string' } } },
};

const V2_METHODS = new Set(['GET', 'PUT', 'POST', 'DELETE', 'QGET', 'SYNC', 'HEAD']);
/** The v2 store's Request (etcdserver.proto). */
const V2_REQUEST: Schema = {
  1: { name: 'ID', kind: 'uint' },
  2: { name: 'Method', kind: 'string' },
  3: { name: 'Path', kind: 'string' },
  4: { name: 'Val', kind: 'string' },
  5: { name: 'Dir', kind: 'bool' },
  6: { name: 'PrevValue', kind: 'string' },
  7: { name: 'PrevIndex', kind: 'uint' },
  8: { name: 'PrevExist', kind: 'bool' },
  9: { name: 'Expiration', kind: 'int' },
  10: { name: 'Wait', kind: 'bool' },
  11: { name: 'Since', kind: 'uint' },
  12: { name: 'Recursive', kind: 'bool' },
  13: { name: 'Sorted', kind: 'bool' },
  14: { name: 'Quorum', kind: 'bool' },
  15: { name: 'Time', kind: 'int' },
  16: { name: 'Stream', kind: 'bool' },
  17: { name: 'Refresh', kind: 'bool' },
};
INTERNAL[2] = { name: 'v2', kind: V2_REQUEST };

function decodeMessage(schema: Schema, buf: Uint8Array, depth = 0): Decoded | null {
  if (depth > 16) return null;
  const fs = fields(buf);
  if (fs === null) return null;
  const out: Decoded = {};
  for (const f of fs) {
    const spec = schema[f.fn];
    if (spec === undefined) return null;
    let value: unknown;
    if (spec.kind === 'uint' || spec.kind === 'int' || spec.kind === 'bool' || Array.isArray(spec.kind)) {
      if (f.v === undefined) return null;
      if (spec.kind === 'uint') value = f.v;
      else if (spec.kind === 'int') value = BigInt.asIntN(64, f.v);
      else if (spec.kind === 'bool') value = f.v !== 0n;
      else value = new EnumValue((spec.kind as readonly string[])[Number(f.v)] ?? `${f.v}`);
    } else {
      if (f.bytes === undefined) return null;
      if (spec.kind === 'bytes') value = f.bytes;
      else if (spec.kind === 'string') value = Buffer.from(f.bytes).toString('utf8');
      else {
        const sub = decodeMessage(spec.kind as Schema, f.bytes, depth + 1);
        if (sub === null) return null;
        value = sub;
      }
    }
    if (spec.repeated === true) ((out[spec.name] ??= []) as unknown[]).push(value);
    else out[spec.name] = value;
  }
  return out;
}

/** A decoded request: which one, a one-line summary, and the decoded fields. */
export interface EtcdRequestInfo {
  /** 'put', 'delete_range', 'txn', 'lease_grant', 'auth_user_add', ... or 'v2' for a v2 Request. */
  kind: string;
  summary: string;
  request: Decoded;
}

/** Decodes an etcd normal entry's payload; null when it is not a request etcd would have written. */
export function decodeEtcdRequest(data: Uint8Array): EtcdRequestInfo | null {
  if (data.length === 0) return null;
  const v2 = decodeMessage(V2_REQUEST, data);
  if (v2 !== null && typeof v2['Method'] === 'string' && V2_METHODS.has(v2['Method'])) {
    return { kind: 'v2', summary: `v2 ${text(v2)}`, request: v2 };
  }
  const rr = decodeMessage(INTERNAL, data);
  if (rr === null) return null;
  const kind = Object.keys(rr).find((k) => k !== 'header' && k !== 'ID');
  if (kind === undefined) return null;
  const rest = Object.fromEntries(Object.entries(rr).filter(([k]) => k !== kind));
  const body = text(rr[kind] as Decoded);
  const id = text(rest);
  return { kind, summary: `${kind}${body ? ` ${body}` : ''}${id ? ` ${id}` : ''}`, request: rr };
}

/** `name=value` pairs in field order; bytes and strings quoted and escaped, messages in braces. */
function text(m: Decoded): string {
  return Object.entries(m)
    .map(([k, v]) => `${k}=${Array.isArray(v) ? `[${v.map(value).join(', ')}]` : value(v)}`)
    .join(' ');
}

function value(v: unknown): string {
  if (v instanceof Uint8Array) return `"${escapeBytes(v, 256)}"`;
  if (v instanceof EnumValue) return v.name;
  if (typeof v === 'string') return JSON.stringify(v);
  if (typeof v === 'object' && v !== null) return `{${text(v as Decoded)}}`;
  return String(v);
}

/** The decoded request as JSON-friendly data: bytes as escaped text (the raw entry stays in `data`). */
export function requestJson(m: unknown): unknown {
  if (m instanceof Uint8Array) return escapeBytes(m);
  if (m instanceof EnumValue) return m.name;
  if (Array.isArray(m)) return m.map(requestJson);
  if (typeof m === 'object' && m !== null) return Object.fromEntries(Object.entries(m).map(([k, v]) => [k, requestJson(v)]));
  return m;
}
