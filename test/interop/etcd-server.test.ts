/**
 * A real etcd 3.4 server (Debian etcd-server) on loopback with a temp data dir: thousands of
 * puts, a delete, a txn, a lease and a compaction, stopped by its pid; then its member/wal is read
 * by our openForRead+readAll and by etcd's own wal package (Go harness) and compared.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { runGo } from './etcd/harness';
import { entriesResult, goCode } from './etcd/script';
import { WAL } from '../../src/etcd/wal';
import { decodeEtcdRequest } from '../../src/cli/etcd-request-decode';
import { tempDir } from '../support/tmp';

const ETCD = '/usr/bin/etcd';
const ETCDCTL = '/usr/bin/etcdctl';
const PUTS = Number(process.env['ETCD_SERVER_PUTS'] ?? 3000);
const run = promisify(execFile);

/** A free loopback port (bound then released). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

async function waitFor(check: () => Promise<boolean>, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await check().catch(() => false)) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out after ${ms} ms waiting for ${what}`);
}

function exited(child: ChildProcess, ms: number): Promise<boolean> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

const b64 = (s: string): string => Buffer.from(s).toString('base64');

interface Server {
  ctl: (...args: string[]) => Promise<{ stdout: string; stderr: string }>;
  log: () => string;
  stop: () => Promise<void>;
}

/** Starts a single-member etcd on loopback and waits (bounded) until it is healthy. */
async function startEtcd(dataDir: string, client: string, peer: string): Promise<Server> {
  let log = '';
  const etcd: ChildProcess = spawn(
    ETCD,
    [
      '--name',
      'nodewal-test',
      '--data-dir',
      dataDir,
      '--listen-client-urls',
      client,
      '--advertise-client-urls',
      client,
      '--listen-peer-urls',
      peer,
      '--initial-advertise-peer-urls',
      peer,
      '--initial-cluster',
      `nodewal-test=${peer}`,
      '--initial-cluster-state',
      'new',
      '--snapshot-count',
      '1000',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  etcd.stdout!.on('data', (d: Buffer) => (log = (log + d.toString()).slice(-20000)));
  etcd.stderr!.on('data', (d: Buffer) => (log = (log + d.toString()).slice(-20000)));
  const stop = async (): Promise<void> => {
    etcd.kill('SIGTERM'); // by its pid, through the ChildProcess handle
    if (!(await exited(etcd, 20_000))) {
      etcd.kill('SIGKILL');
      await exited(etcd, 5_000);
    }
  };
  const ctl = (...args: string[]): Promise<{ stdout: string; stderr: string }> =>
    run(ETCDCTL, ['--endpoints', client, '--command-timeout', '10s', ...args], {
      env: { ...process.env, ETCDCTL_API: '3' },
      timeout: 20_000,
    });
  try {
    await waitFor(
      async () => {
        const h = await ctl('endpoint', 'health');
        return `${h.stdout}${h.stderr}`.includes('is healthy'); // 3.4 prints it on stderr
      },
      30_000,
      'etcd to become healthy',
    );
  } catch (err) {
    await stop();
    throw new Error(`${String(err)}\n--- etcd log ---\n${log}`);
  }
  return { ctl, log: () => log, stop };
}

test(`real etcd server: ${PUTS} puts, then its member/wal read by us and by etcd's wal package`, { timeout: 240_000 }, async () => {
  const dataDir = path.join(tempDir('etcd-server-'), 'data');
  const [clientPort, peerPort] = [await freePort(), await freePort()];
  const client = `http://127.0.0.1:${clientPort}`;
  const peer = `http://127.0.0.1:${peerPort}`;
  const server = await startEtcd(dataDir, client, peer);
  const ctl = server.ctl;
  try {
    await ctl('put', 'first', 'value');
    // The bulk goes through etcd's JSON gateway (one raft entry per put, no process spawn each).
    const put = async (i: number): Promise<void> => {
      const res = await fetch(`${client}/v3/kv/put`, {
        method: 'POST',
        body: JSON.stringify({ key: b64(`key-${i % 500}`), value: b64(`value-${i}-${'x'.repeat(i % 300)}`) }),
        signal: AbortSignal.timeout(10_000),
      });
      assert.equal(res.status, 200, await res.text());
    };
    for (let i = 0; i < PUTS; i += 8) await Promise.all(Array.from({ length: Math.min(8, PUTS - i) }, (_, k) => put(i + k)));
    await ctl('del', 'key-1');
    const txn = await fetch(`${client}/v3/kv/txn`, {
      method: 'POST',
      body: JSON.stringify({
        compare: [{ key: b64('first'), result: 'EQUAL', target: 'VALUE', value: b64('value') }],
        success: [{ requestPut: { key: b64('txn'), value: b64('ok') } }],
      }),
      signal: AbortSignal.timeout(10_000),
    });
    assert.match(await txn.text(), /"succeeded":true/);
    const lease = (await ctl('lease', 'grant', '60')).stdout;
    assert.match(lease, /granted with TTL/);
    const rev = /"revision":(\d+)/.exec((await ctl('get', 'first', '-w', 'json')).stdout)?.[1];
    assert.ok(rev);
    await ctl('compaction', rev!);
    await ctl('put', 'last', 'value');
  } catch (err) {
    throw new Error(`${String(err)}\n--- etcd log ---\n${server.log()}`);
  } finally {
    await server.stop();
  }

  const walDir = path.join(dataDir, 'member', 'wal');
  assert.ok(fs.readdirSync(walDir).some((n) => n.endsWith('.wal')));

  // etcd's own reading of its own directory is the reference.
  const go = runGo([
    { op: 'validSnapshotEntries', dir: walDir },
    { op: 'openForRead', dir: walDir, index: '0', term: '0' },
    { op: 'readAll' },
  ]);
  assert.equal(go[0]!.error, null);
  assert.equal(go[2]!.error, null, String(go[2]!.error));
  const goSnaps = go[0]!.snapshots!;

  const snaps = await WAL.validSnapshotEntries(walDir);
  assert.deepEqual(
    snaps.map((s) => ({ index: s.index.toString(), term: s.term.toString() })),
    goSnaps,
  );
  assert.ok(snaps.length >= 2, `expected etcd to have taken snapshots, got ${snaps.length}`);

  const r = await WAL.openForRead(walDir, { index: 0n, term: 0n });
  const res = await r.readAll();
  await r.close();
  assert.ok(res.entries.length >= PUTS, `only ${res.entries.length} entries`);
  assert.equal(res.entries.length, go[2]!.count);
  assert.deepEqual({ term: res.state.term.toString(), vote: res.state.vote.toString(), commit: res.state.commit.toString() }, go[2]!.state);
  assert.ok(res.state.vote > 0n);
  assert.deepEqual(entriesResult(res.entries), go[2]!.entries);
  assert.equal(res.metadata === null ? null : Buffer.from(res.metadata).toString('base64'), go[2]!.metadata);
  // nil data (the leader's empty entry of each term) is preserved, as etcd returns it
  assert.ok(res.entries.some((e) => e.data === null));

  // `wal dump` decodes every request this server wrote, as etcd-dump-logs does (cli decoder).
  const kinds = new Set<string>();
  for (const e of res.entries) {
    if (e.type !== 0 || e.data === null || e.data.length === 0) continue;
    const req = decodeEtcdRequest(e.data);
    assert.ok(req !== null, `entry ${e.index} does not decode: ${Buffer.from(e.data).toString('hex').slice(0, 80)}`);
    kinds.add(req.kind);
  }
  for (const k of ['put', 'delete_range', 'txn', 'lease_grant', 'compaction'])
    assert.ok(kinds.has(k), `no ${k} among ${[...kinds].join(',')}`);
  const firstPut = res.entries.map((e) => (e.data ? decodeEtcdRequest(e.data) : null)).find((q) => q?.kind === 'put');
  assert.match(firstPut!.summary, /^put key="first" value="value" header=\{ID=\d+\}$/);

  // Opening at the newest valid snapshot, as the server does on restart.
  const newest = snaps[snaps.length - 1]!;
  const goAt = runGo([{ op: 'openForRead', dir: walDir, index: newest.index.toString(), term: newest.term.toString() }, { op: 'readAll' }]);
  const at = await WAL.openForRead(walDir, newest);
  const atRes = await at.readAll();
  await at.close();
  assert.equal(goCode(goAt[1]!.error), null);
  assert.deepEqual(entriesResult(atRes.entries), goAt[1]!.entries);
  assert.equal(await WAL.verify(walDir, newest).then(() => 'ok'), 'ok');

  // We append to etcd's own WAL in write mode (a no-op entry, as a new raft leader writes, and the
  // HardState committing it), then the etcd server restarts on that directory and keeps serving.
  const w = await WAL.open(walDir, newest);
  const mine = await w.readAll();
  const last = mine.entries.length > 0 ? mine.entries[mine.entries.length - 1]!.index : newest.index;
  const term = mine.state.term;
  await w.save({ term, vote: mine.state.vote, commit: last + 1n }, [{ term, index: last + 1n, type: 0, data: null }]);
  await w.close();
  const goAfter = runGo([{ op: 'openForRead', dir: walDir, index: '0', term: '0' }, { op: 'readAll' }]);
  assert.equal(goAfter[1]!.error, null);
  assert.equal(goAfter[1]!.count, res.entries.length + 1);
  assert.deepEqual(goAfter[1]!.state, { term: term.toString(), vote: mine.state.vote.toString(), commit: (last + 1n).toString() });

  const again = await startEtcd(dataDir, client, peer);
  try {
    const got = await again.ctl('get', 'last', '--print-value-only');
    assert.equal(got.stdout.trim(), 'value');
    await again.ctl('put', 'after-restart', 'ok');
  } catch (err) {
    throw new Error(`${String(err)}\n--- etcd log ---\n${again.log()}`);
  } finally {
    await again.stop();
  }
  const final = runGo([{ op: 'openForRead', dir: walDir, index: '0', term: '0' }, { op: 'readAll' }]);
  assert.equal(final[1]!.error, null);
  assert.ok(final[1]!.count! > res.entries.length + 1, 'etcd appended after our entry');
  const ours = await WAL.openForRead(walDir, { index: 0n, term: 0n });
  const oursRes = await ours.readAll();
  await ours.close();
  assert.deepEqual(entriesResult(oursRes.entries), final[1]!.entries);
});
