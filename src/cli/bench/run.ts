/**
 * One benchmark run on the backend this process loaded: durable ingestion with `Log` by several
 * concurrent producers (each awaits its append before the next, so group commit is what makes it
 * fast), then recovery — reopen, stream every entry back and check it — then an etcd-format check
 * of the directory with the CLI's own verifier.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { defaultBackend } from '../../io/backend';
import { LatencyHistogram, type LatencySummary } from '../../log/histogram';
import { Log } from '../../log/log';
import { detect } from '../detect';
import { scanEtcd } from '../etcd-scan';
import { checkPayload, makePayload } from './payload';

export interface BenchParams {
  records: number;
  size: number;
  producers: number;
  /** Parent directory for the temporary log directory. */
  parent: string;
  keep: boolean;
  onProgress?: (done: number, total: number) => void;
}

export interface BenchResult {
  backend: string;
  backendReason: string;
  crc: string;
  dir: string;
  records: number;
  size: number;
  producers: number;
  ingest: {
    seconds: number;
    recordsPerSec: number;
    mbPerSec: number;
    fsyncs: number;
    fsyncsPerSec: number;
    recordsPerFsync: number;
    /** Append call to durable resolution, microseconds. */
    latency: LatencySummary;
    /** write+fdatasync as the Log measured it, microseconds. */
    fsyncLatency: LatencySummary;
    direct: boolean;
  };
  recovery: {
    seconds: number;
    openSeconds: number;
    recordsPerSec: number;
    mbPerSec: number;
    verified: number;
  };
  /** etcd's own reading: WAL records (entries plus crc, metadata, snapshot, hard-state records). */
  etcdCheck: { seconds: number; records: number; entries: number; problems: number };
  bytesOnDisk: number;
}

/** Runs ingestion + recovery; throws if anything read back differs from what was written. */
export async function runBench(p: BenchParams): Promise<BenchResult> {
  fs.mkdirSync(p.parent, { recursive: true });
  const dir = fs.mkdtempSync(path.join(p.parent, 'wal-bench-'));
  // Ctrl-C mid-run must not leave tens of megabytes behind in the temp directory.
  const onSignal = (signal: NodeJS.Signals): void => {
    if (!p.keep) fs.rmSync(dir, { recursive: true, force: true });
    process.exit(signal === 'SIGINT' ? 130 : 143);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    return await measure(dir, p);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    if (!p.keep) fs.rmSync(dir, { recursive: true, force: true });
  }
}

async function measure(dir: string, p: BenchParams): Promise<BenchResult> {
  const logDir = path.join(dir, 'log');
  const log = await Log.open(logDir);
  const hist = new LatencyHistogram();
  // index returned by append for (producer, seq), to check against what recovery reads.
  const perProducer = Math.ceil(p.records / p.producers);
  const indexOf = new Float64Array(p.producers * perProducer).fill(-1);
  let done = 0;
  const t0 = performance.now();
  const producer = async (id: number, count: number): Promise<void> => {
    for (let seq = 0; seq < count; seq++) {
      const data = makePayload(id, seq, p.size);
      const start = performance.now();
      const index = await log.append(data);
      hist.record((performance.now() - start) * 1000);
      indexOf[id * perProducer + seq] = Number(index);
      if ((++done & 1023) === 0) p.onProgress?.(done, p.records);
    }
  };
  const jobs: Promise<void>[] = [];
  for (let id = 0, left = p.records; id < p.producers; id++) {
    const count = Math.min(perProducer, left);
    left -= count;
    jobs.push(producer(id, count));
  }
  await Promise.all(jobs);
  const ingestSeconds = (performance.now() - t0) / 1000;
  const stats = log.stats();
  await log.close();
  p.onProgress?.(p.records, p.records);

  // Recovery: what a restarted process does before it can serve.
  const r0 = performance.now();
  const reopened = await Log.open(logDir, { mustExist: true });
  const openSeconds = (performance.now() - r0) / 1000;
  const scratch = new Uint8Array(Math.max(p.size, 8));
  const lastSeq = new Int32Array(p.producers).fill(-1);
  let verified = 0;
  try {
    for await (const e of reopened.entries()) {
      const who = checkPayload(e.data, p.size, scratch);
      if (who === null) throw new Error(`recovery: entry ${e.index} does not hold an intact benchmark record`);
      if (who.producer >= p.producers || who.seq !== lastSeq[who.producer]! + 1) {
        throw new Error(`recovery: entry ${e.index} is producer ${who.producer} record ${who.seq}, out of order or duplicated`);
      }
      if (indexOf[who.producer * perProducer + who.seq] !== Number(e.index)) {
        throw new Error(`recovery: entry ${e.index} holds a record whose append resolved with another index`);
      }
      lastSeq[who.producer] = who.seq;
      verified++;
    }
  } finally {
    await reopened.close();
  }
  const recoverySeconds = (performance.now() - r0) / 1000;
  if (verified !== p.records) throw new Error(`recovery: read back ${verified} of ${p.records} records`);

  const c0 = performance.now();
  const check = await scanEtcd(detect(logDir, 'etcd') as Extract<ReturnType<typeof detect>, { format: 'etcd' }>);
  const checkSeconds = (performance.now() - c0) / 1000;
  const mb = (p.records * p.size) / 1e6;
  return {
    backend: defaultBackend.kind,
    backendReason: defaultBackend.reason,
    crc: defaultBackend.crcImplementation,
    dir: logDir,
    records: p.records,
    size: p.size,
    producers: p.producers,
    ingest: {
      seconds: ingestSeconds,
      recordsPerSec: p.records / ingestSeconds,
      mbPerSec: mb / ingestSeconds,
      fsyncs: stats.fsyncs,
      fsyncsPerSec: stats.fsyncs / ingestSeconds,
      recordsPerFsync: stats.fsyncs === 0 ? p.records : p.records / stats.fsyncs,
      latency: hist.summary(),
      fsyncLatency: stats.fsyncLatency,
      direct: stats.direct,
    },
    recovery: {
      seconds: recoverySeconds,
      openSeconds,
      recordsPerSec: p.records / recoverySeconds,
      mbPerSec: mb / recoverySeconds,
      verified,
    },
    etcdCheck: { seconds: checkSeconds, records: check.records, entries: check.entries, problems: check.problems.length },
    bytesOnDisk: dirBytes(logDir),
  };
}

function dirBytes(dir: string): number {
  let n = 0;
  for (const name of fs.readdirSync(dir)) n += fs.statSync(path.join(dir, name)).size;
  return n;
}

/** Default parent directory for benchmark logs. */
export function defaultParent(): string {
  return os.tmpdir();
}
