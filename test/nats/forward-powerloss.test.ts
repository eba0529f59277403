/**
 * Writer crashes under a running forwarder.
 *
 * Power loss (the recording layer): a producer appends to a Log whose I/O is recorded while
 * forward() sends it to a real nats-server. Every crash state of the history is reopened; marks in
 * the history say what had been acknowledged to the producer and which batches had been sent to and
 * stored by the stream by then. Nothing sent downstream may be absent from the recovered log (same
 * log id, same bytes at the same index), and nothing acknowledged to the producer may be missing
 * from it. For some states the downstream of that moment is rebuilt on a fresh subject (the batches
 * stored by then, plus, half the time, the one in flight) and a forwarder resumes from the
 * recovered log: the subject then holds exactly the recovered log, once, in order — every
 * acknowledged record included.
 *
 * kill -9 (real processes): a writer process is killed and restarted repeatedly while an
 * in-process forwarder follows the log through a read-only open; afterwards the stream holds exactly
 * the log's records, and every record a writer had acknowledged.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { headers } from 'nats';
import type { NatsConnection } from 'nats';
import { defaultBackend } from '../../src/io/backend';
import { forward } from '../../src/forward/forward';
import type { Sink, SinkRecord } from '../../src/forward/sink';
import { jetStreamSink } from '../../src/jetstream';
import { Log } from '../../src/log/log';
import { checkCrashStates, scratchDir } from '../support/crash-states';
import { RecordingIo } from '../support/recording-io';
import { prng } from '../support/prng';
import type { CrashState } from '../support/recording-io';
import { tempDir } from '../support/tmp';
import { cleanupAfter, lastIndexOn, until } from './support/forwarding';
import { readBack } from './support/read-back';
import { startServer } from './support/nats-servers';
import type { Servers } from './support/nats-servers';

const STATES = Number(process.env['FORWARD_POWERLOSS_STATES'] ?? 400);
const REPLAYS = Number(process.env['FORWARD_POWERLOSS_REPLAYS'] ?? 8);
const RECORDS = 300;

type Mark = { acked: number } | { sent: number } | { stored: { first: number; last: number; seq: number } };

function payloadOf(i: number): Uint8Array {
  const r = prng(7919 * i + 13);
  const n = r() < 0.1 ? 300 + Math.floor(r() * 900) : 1 + Math.floor(r() * 120);
  const b = new Uint8Array(n);
  for (let k = 0; k < n; k++) b[k] = (r() * 256) | 0;
  return b;
}

describe('writer crashes under a running forwarder', () => {
  let servers: Servers;
  let nc: NatsConnection;
  before(async () => {
    servers = await startServer();
    await servers.addStream({ name: 'PL', subjects: ['pl.>'] });
    nc = await servers.connect();
  });
  after(async () => {
    await nc?.close();
    await servers?.stop();
  });

  test(`power loss: nothing downstream is absent from the recovered log, nothing acknowledged is missing (${STATES} crash states, ${REPLAYS} resumed)`, async (t) => {
    const root = scratchDir('nodewal-fwd-pl-');
    const rec = new RecordingIo(defaultBackend, root);
    const logDir = path.join(root, 'log');
    const log = await Log.open(logDir, { io: rec, segmentSize: 8192 });
    const liveId = log.id;
    const js = await jetStreamSink({ servers: servers.urls, stream: 'PL', subject: 'pl.live' });
    const stored: { first: number; last: number; seq: number }[] = [];
    // The JetStream sink, with marks in the recorded history around each send.
    const marking: Sink = {
      maxBatchBytes: 1500, // many small batches: many states between a send and its ack
      lastForwarded: (id) => js.lastForwarded(id),
      async send(records: readonly SinkRecord[], o) {
        const first = Number(records[0]!.index);
        const last = Number(records.at(-1)!.index);
        rec.mark({ sent: last } satisfies Mark);
        await js.send(records, o);
        const s = { first, last, seq: js.stats().lastSequence };
        stored.push(s);
        rec.mark({ stored: s } satisfies Mark);
      },
    };
    const fw = await forward(log, { consumer: 'js', sink: marking });
    cleanupAfter(t, fw, js, log);
    const r = prng(99);
    let next = 1;
    let acked = 0;
    while (next <= RECORDS) {
      const burst: Promise<void>[] = [];
      for (let k = 0; k < 1 + Math.floor(r() * 6) && next <= RECORDS; k++) {
        burst.push(
          log.append(payloadOf(next++)).then((i) => {
            if (Number(i) > acked) rec.mark({ acked: (acked = Number(i)) } satisfies Mark);
          }),
        );
      }
      await Promise.all(burst);
      if (r() < 0.3) await new Promise((res) => setTimeout(res, 1));
    }
    await until(() => fw.stats().lastForwarded === BigInt(RECORDS), 30000, 'live forwarding done');
    await fw.stop();
    await log.close();
    await js.close();
    assert.ok(stored.length > 20, `${stored.length} batches`);

    let replays = 0;
    let withInFlight = 0;
    let statesWithSent = 0;
    const scratch = scratchDir('nodewal-fwd-pl-states-');
    const check = async (dir: string, state: CrashState): Promise<void> => {
      const marks = state.marks as Mark[];
      const ackedBy = marks.reduce((a, m) => ('acked' in m ? Math.max(a, m.acked) : a), 0);
      const sentBy = marks.reduce((a, m) => ('sent' in m ? Math.max(a, m.sent) : a), 0);
      const storedBy = marks
        .filter((m): m is { stored: { first: number; last: number; seq: number } } => 'stored' in m)
        .map((m) => m.stored);
      const d = path.join(dir, 'log');
      if (!fs.existsSync(d) || !fs.readdirSync(d).some((n) => n.endsWith('.wal'))) {
        assert.equal(ackedBy, 0);
        assert.equal(sentBy, 0);
        return;
      }
      const recovered = await Log.open(d, { segmentSize: 8192, mustExist: true });
      try {
        if (sentBy > 0) {
          statesWithSent++;
          assert.equal(recovered.id, liveId, 'batches name the log by its id: it must survive');
        }
        const last = Number(recovered.lastIndex);
        assert.ok(last >= sentBy, `sent downstream up to ${sentBy}, the recovered log ends at ${last}`);
        assert.ok(last >= ackedBy, `acknowledged up to ${ackedBy}, the recovered log ends at ${last}`);
        for await (const e of recovered.entries()) assert.deepEqual(e.data, payloadOf(Number(e.index)), `record ${e.index}`);
        // The downstream of that moment, rebuilt on a fresh subject; then resume from the recovered
        // log. Half the replays take a state with a batch in flight and count it as stored.
        const inFlight = stored[storedBy.length];
        const hasInFlight = inFlight !== undefined && sentBy >= inFlight.last;
        const replay =
          replays < REPLAYS && (hasInFlight ? withInFlight < REPLAYS / 2 : state.at % 7 === 0 && replays - withInFlight < REPLAYS / 2);
        if (!replay) return;
        const subject = `pl.s${replays}`;
        const take = hasInFlight ? [...storedBy, inFlight] : storedBy;
        if (hasInFlight) withInFlight++;
        const jsc = nc.jetstream();
        const jsm = await nc.jetstreamManager();
        for (const b of take) {
          const m = await jsm.streams.getMessage('PL', { seq: b.seq });
          // The batch headers only: the live message's Nats-Msg-Id would be deduplicated away.
          const h = headers();
          for (const k of m.header.keys()) if (k.startsWith('Wal-')) h.set(k, m.header.get(k));
          const ack = await jsc.publish(subject, m.data, { headers: h });
          assert.equal(ack.duplicate, false);
        }
        const sink = await jetStreamSink({ servers: servers.urls, stream: 'PL', subject });
        const again = await forward(recovered, { consumer: 'js', sink });
        try {
          assert.equal(again.stats().resumedAfter, BigInt(take.at(-1)?.last ?? 0));
          await until(async () => (await lastIndexOn(nc, 'PL', subject)) === BigInt(last), 20000, `${subject} caught up`);
        } finally {
          await again.stop({ graceMs: 100 }).catch(() => undefined);
          await sink.close();
        }
        const back = await readBack(nc, 'PL', subject);
        assert.deepEqual(
          back.records.map((x) => x.index),
          Array.from({ length: last }, (_, i) => BigInt(i + 1)),
        );
        for (const x of back.records) assert.deepEqual(x.data, payloadOf(Number(x.index)));
        replays++;
      } finally {
        await recovered.close();
      }
    };
    const res = await checkCrashStates({ rec, scratch, variants: 3, seed: 5, limit: STATES, check });
    console.log(
      `# power loss: ${res.checked} crash states checked (${statesWithSent} after a send), ${replays} resumed (${withInFlight} with the in-flight batch stored), ${stored.length} batches live`,
    );
    assert.ok(res.checked >= Math.min(STATES, 100));
    assert.ok(replays >= Math.min(REPLAYS, 3));
  });

  test('kill -9 of the writer process, restarted 8 times, while a read-only forwarder runs: the stream is the log, acked records included', async (t) => {
    const dir = tempDir('nodewal-fwd-wk-');
    const child = path.join(__dirname, 'support', 'writer-child.ts');
    const ackedByGen: number[] = [];
    // The first writer creates the log; the forwarder opens it read-only beside the writers.
    const runWriter = async (gen: number, ms: number): Promise<void> => {
      const p = spawn(process.execPath, ['--import', 'tsx', child, dir, String(gen)], { stdio: ['ignore', 'pipe', 'inherit'] });
      let out = '';
      p.stdout!.on('data', (d: Buffer) => (out += d.toString()));
      const exited = new Promise((r) => p.once('exit', r));
      await until(() => out.includes('acked'), 30000, 'writer running');
      await new Promise((r) => setTimeout(r, ms));
      p.kill('SIGKILL');
      await exited;
      const acks = out
        .split('\n')
        .filter((l) => l.startsWith('acked '))
        .map((l) => Number(l.slice(6)));
      ackedByGen[gen] = Math.max(0, ...acks);
    };
    await runWriter(0, 300);
    const ro = await Log.open(dir, { readOnly: true });
    const sink = await jetStreamSink({ servers: servers.urls, stream: 'PL', subject: 'pl.writer' });
    const fw = await forward(ro, { consumer: 'js', sink });
    cleanupAfter(t, fw, sink, ro);
    const r = prng(4242);
    for (let gen = 1; gen <= 8; gen++) await runWriter(gen, 100 + Math.floor(r() * 700));
    // The last writer's records: wait until the forwarder has everything the log holds.
    const log = await Log.open(dir);
    const last = log.lastIndex;
    await log.close();
    await until(() => fw.stats().lastForwarded === last, 30000, 'forwarder caught up');
    await fw.stop();
    await sink.close();
    await ro.close();
    const back = await readBack(nc, 'PL', 'pl.writer');
    const check = await Log.open(dir);
    const inLog: Buffer[] = [];
    for await (const e of check.entries()) inLog.push(Buffer.from(e.data));
    await check.close();
    assert.equal(back.records.length, inLog.length);
    for (let i = 0; i < inLog.length; i++) {
      assert.equal(back.records[i]!.index, BigInt(i + 1));
      assert.deepEqual(Buffer.from(back.records[i]!.data), inLog[i], `record ${i + 1}`);
    }
    // Every record a writer acknowledged is there, with that writer's generation in it.
    for (let gen = 0; gen <= 8; gen++) {
      const mine = back.records.filter((x) => Buffer.from(x.data).toString().startsWith(`g${gen}:`));
      const top = mine.reduce((a, x) => Math.max(a, Number(Buffer.from(x.data).toString().split(':')[1])), 0);
      assert.ok(top >= ackedByGen[gen]!, `writer ${gen} acknowledged up to its record ${ackedByGen[gen]}, downstream has up to ${top}`);
    }
    console.log(`# writer kills: 9 writers, ${inLog.length} records, acked per writer ${ackedByGen.join(' ')}`);
  });
});
