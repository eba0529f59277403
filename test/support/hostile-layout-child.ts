// Child of log-hostile-layout.test.ts: opens argv[2] with Log.open and WAL.open (+ readAll) and
// prints what each did as one JSON line. It runs without the right to write the directory (a
// non-root user, or root with CAP_DAC_OVERRIDE dropped), which the parent cannot do in-process.
import { WAL } from '../../src/etcd/wal';
import { Log } from '../../src/log/log';
import { openDecision, walDecision } from './hostile-layout-open';

async function main(): Promise<void> {
  const dir = process.argv[2]!;
  const log = await openDecision(
    () => Log.open(dir, { mustExist: true, segmentSize: 16 * 1024 }),
    (l) => l.close(),
  );
  const wal = await walDecision(() => WAL.open(dir, { index: 0n, term: 0n }));
  process.stdout.write(`${JSON.stringify({ log, wal })}\n`);
}
void main();
