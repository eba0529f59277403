// wal dump decodes etcd's request payloads (InternalRaftRequest, v2 Request) like etcd-dump-logs.
// The bytes here are encoded by hand from the .proto field numbers (raft_internal.proto, rpc.proto,
// etcdserver.proto), independently of the decoder; test/interop/etcd-server.test.ts checks the
// decoder against every request a real etcd 3.4 server wrote.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { decodeEtcdRequest } from '../../src/cli/etcd-request-decode';
import { WAL } from '../../src/etcd/wal';
import { tempDir } from '../support/tmp';
import { jsonLines, wal } from '../support/cli-helpers';

const varint = (n: number | bigint): number[] => {
  let v = BigInt.asUintN(64, BigInt(n));
  const out: number[] = [];
  while (v >= 0x80n) {
    out.push(Number(v & 0x7fn) | 0x80);
    v >>= 7n;
  }
  out.push(Number(v));
  return out;
};
const tag = (fn: number, wt: number): number[] => varint((fn << 3) | wt);
const bytesField = (fn: number, b: number[] | string): number[] => {
  const body = typeof b === 'string' ? [...Buffer.from(b)] : b;
  return [...tag(fn, 2), ...varint(body.length), ...body];
};
const uintField = (fn: number, v: number | bigint): number[] => [...tag(fn, 0), ...varint(v)];
const header = (id: number): number[] => bytesField(100, uintField(1, id));

test('v3 put, delete range, txn, compaction, lease grant/revoke and auth requests decode', () => {
  const put = Uint8Array.from([...header(7), ...bytesField(4, [...bytesField(1, 'foo'), ...bytesField(2, 'bar'), ...uintField(3, 5)])]);
  assert.equal(decodeEtcdRequest(put)?.summary, 'put key="foo" value="bar" lease=5 header={ID=7}');
  const del = Uint8Array.from([...header(8), ...bytesField(5, [...bytesField(1, 'a'), ...bytesField(2, 'b')])]);
  assert.equal(decodeEtcdRequest(del)?.summary, 'delete_range key="a" range_end="b" header={ID=8}');
  const compare = [...uintField(1, 0), ...uintField(2, 3), ...bytesField(3, 'k'), ...bytesField(7, 'v')];
  const txn = Uint8Array.from([
    ...header(9),
    ...bytesField(6, [
      ...bytesField(1, compare),
      ...bytesField(2, bytesField(2, [...bytesField(1, 'k'), ...bytesField(2, 'w')])),
      ...bytesField(3, bytesField(3, bytesField(1, 'k'))),
    ]),
  ]);
  assert.equal(
    decodeEtcdRequest(txn)?.summary,
    'txn compare=[{result=EQUAL target=VALUE key="k" value="v"}] success=[{request_put={key="k" value="w"}}] failure=[{request_delete_range={key="k"}}] header={ID=9}',
  );
  const compaction = Uint8Array.from([...header(10), ...bytesField(7, [...uintField(1, 42), ...uintField(2, 1)])]);
  assert.equal(decodeEtcdRequest(compaction)?.summary, 'compaction revision=42 physical=true header={ID=10}');
  const grant = Uint8Array.from([...header(11), ...bytesField(8, [...uintField(1, 60), ...uintField(2, 0x694d7ab1c5e2f10cn)])]);
  assert.equal(decodeEtcdRequest(grant)?.summary, `lease_grant TTL=60 ID=${0x694d7ab1c5e2f10cn} header={ID=11}`);
  const revoke = Uint8Array.from([...header(12), ...bytesField(9, uintField(1, -2))]);
  assert.equal(decodeEtcdRequest(revoke)?.summary, 'lease_revoke ID=-2 header={ID=12}', 'int64 fields are signed');
  const userAdd = Uint8Array.from([...header(13), ...bytesField(1100, [...bytesField(1, 'root'), ...bytesField(2, 'pw')])]);
  assert.equal(decodeEtcdRequest(userAdd)?.summary, 'auth_user_add name="root" password="pw" header={ID=13}');
  const enable = Uint8Array.from([...header(14), ...bytesField(1000, [])]);
  assert.equal(decodeEtcdRequest(enable)?.summary, 'auth_enable header={ID=14}');
});

test('a v2 Request (etcd 3.4 writes member attributes and the cluster version this way) decodes', () => {
  const v2 = Uint8Array.from([...uintField(1, 99), ...bytesField(2, 'PUT'), ...bytesField(3, '/0/version'), ...bytesField(4, '3.4.0')]);
  assert.equal(decodeEtcdRequest(v2)?.summary, 'v2 ID=99 Method="PUT" Path="/0/version" Val="3.4.0"');
});

test('property: text and random bytes that are not requests stay undecoded (shown raw)', () => {
  for (const s of ['first record', 'put a=1', '{"json":true}', 'entry-7:xxxxxxx', ''])
    assert.equal(decodeEtcdRequest(Buffer.from(s)), null, s);
  let decoded = 0;
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 1, maxLength: 64 }), (b) => {
      const r = decodeEtcdRequest(b);
      if (r !== null) decoded++;
      return true; // never throws
    }),
    { numRuns: 2000 },
  );
  assert.ok(decoded < 20, `${decoded} of 2000 random payloads taken for requests`);
});

test('wal dump shows decoded requests; --raw shows the bytes; --json has both', async () => {
  const dir = tempDir();
  const put = Buffer.from([...header(7), ...bytesField(4, [...bytesField(1, 'foo'), ...bytesField(2, 'bar')])]);
  const w = await WAL.create(dir, null);
  await w.save({ term: 1n, vote: 1n, commit: 2n }, [
    { term: 1n, index: 1n, type: 0, data: put },
    { term: 1n, index: 2n, type: 0, data: Buffer.from('plain bytes') },
  ]);
  await w.close();
  const text = wal(['dump', dir]);
  assert.match(text.stdout, /index=1 term=1 normal size=\d+ crc=0x[0-9a-f]{8} ok put key="foo" value="bar" header=\{ID=7\}/);
  assert.match(text.stdout, /index=2 .* "plain bytes"/);
  const raw = wal(['dump', dir, '--raw']);
  assert.doesNotMatch(raw.stdout, /put key=/);
  assert.match(raw.stdout, /index=1 .* "\\xa2\\x06/);
  const json = jsonLines(wal(['dump', dir, '--json']).stdout);
  const e1 = json.find((o) => o['index'] === '1' || o['index'] === 1)!;
  assert.deepEqual((e1['request'] as { kind: string; fields: unknown }).kind, 'put');
  assert.deepEqual((e1['request'] as { fields: { put: unknown } }).fields.put, { key: 'foo', value: 'bar' });
  assert.equal(Buffer.from(e1['data'] as string, 'base64').toString('hex'), put.toString('hex'));
});
