// Child process for lock-*.test.ts: a writer or opener on the backend WAL_NATIVE selects, driven by
// one JSON command per stdin line; answers one JSON line per command on stdout. Commands:
//   {cmd:'open', kind:'log'|'wal'|'leveldb', path, lock?, segmentSize?}  -> {ok:true} | {ok:false, code}
//   {cmd:'append', n, tag}   -> {acked: last index} once n records `tag/i` are acknowledged
//   {cmd:'stream', tag}      -> appends until killed, printing {acked} after every acknowledged batch
//   {cmd:'probe', path}      -> {log, wal}: the codes this process's own Log.open / WAL.open get
//   {cmd:'close'}            -> {closed:true}
import * as readline from 'node:readline';
import { Log } from '../../src/log/log';
import { WAL } from '../../src/etcd/wal';
import { LevelDBLogWriter } from '../../src/leveldb/writer';
import type { LockOptions } from '../../src/lock/options';

interface Command {
  cmd: string;
  kind?: 'log' | 'wal' | 'leveldb';
  path?: string;
  lock?: LockOptions;
  segmentSize?: number;
  n?: number;
  tag?: string;
}

let log: Log | null = null;
let wal: WAL | null = null;
let leveldb: LevelDBLogWriter | null = null;
let walIndex = 0n;

const say = (v: unknown): void => {
  process.stdout.write(`${JSON.stringify(v, (_k, x) => (typeof x === 'bigint' ? x.toString() : x))}\n`);
};
const codeOf = (err: unknown): string => (err as { code?: string }).code ?? String(err);

async function open(c: Command): Promise<void> {
  const lock = c.lock;
  if (c.kind === 'log') log = await Log.open(c.path!, { lock, segmentSize: c.segmentSize ?? 64_000_000, preallocation: 'fallocate' });
  else if (c.kind === 'wal') {
    wal = await WAL.open(c.path!, { index: 0n, term: 0n }, { lock, segmentSizeBytes: c.segmentSize ?? 64_000_000 });
    const { entries } = await wal.readAll();
    walIndex = entries.length > 0 ? entries[entries.length - 1]!.index : 0n;
  } else leveldb = await LevelDBLogWriter.open(c.path!, { lock });
}

async function appendSome(n: number, tag: string): Promise<bigint> {
  const records = Array.from({ length: n }, (_, i) => `${tag}/${i}`);
  if (log !== null) {
    const indexes = await Promise.all(records.map((r) => log!.append(r)));
    return indexes[indexes.length - 1]!;
  }
  if (wal !== null) {
    const entries = records.map((r) => ({ term: 1n, index: ++walIndex, type: 0, data: Buffer.from(r) }));
    await wal.save({ term: 1n, vote: 0n, commit: walIndex }, entries);
    return walIndex;
  }
  await leveldb!.addRecords(
    records.map((r) => Buffer.from(r)),
    { sync: true },
  );
  return BigInt(n);
}

async function handle(c: Command): Promise<void> {
  switch (c.cmd) {
    case 'open':
      try {
        await open(c);
        say({ ok: true });
      } catch (err) {
        say({ ok: false, code: codeOf(err), message: (err as Error).message });
      }
      return;
    case 'append':
      try {
        say({ acked: await appendSome(c.n!, c.tag!) });
      } catch (err) {
        say({ failed: codeOf(err), message: (err as Error).message });
      }
      return;
    case 'stream':
      for (let batch = 0; ; batch++) {
        try {
          say({ acked: await appendSome(20, `${c.tag}/${batch}`) });
        } catch (err) {
          say({ failed: codeOf(err), message: (err as Error).message });
          return;
        }
      }
    case 'probe': {
      const result: Record<string, string> = {};
      try {
        await (await Log.open(c.path!)).close();
        result['log'] = 'opened';
      } catch (err) {
        result['log'] = codeOf(err);
      }
      try {
        await (await WAL.open(c.path!, { index: 0n, term: 0n })).close();
        result['wal'] = 'opened';
      } catch (err) {
        result['wal'] = codeOf(err);
      }
      say(result);
      return;
    }
    case 'close':
      await log?.close();
      await wal?.close();
      await leveldb?.close();
      log = wal = leveldb = null;
      say({ closed: true });
      return;
    default:
      say({ error: `unknown command ${c.cmd}` });
  }
}

say({ ready: true, pid: process.pid });
const rl = readline.createInterface({ input: process.stdin });
let chain = Promise.resolve();
rl.on('line', (line) => {
  const c = JSON.parse(line) as Command;
  // 'stream' runs until killed; everything else runs in order.
  if (c.cmd === 'stream') void handle(c);
  else chain = chain.then(() => handle(c));
});
rl.on('close', () => {
  void chain.then(async () => {
    await log?.close();
    await wal?.close();
    await leveldb?.close();
  });
});
