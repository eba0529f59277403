// Child of log-open-kill.test.ts: says "start", opens the Log in argv[2] (repairing its torn tail
// and preparing it, which the parent kills it in the middle of), says "opened", then appends
// records, printing each acknowledged index, until it is killed.
import { Log } from '../../src/log/log';
import { freshRecord, SEGMENT } from './log-open-kill-records';

async function main(): Promise<void> {
  process.stdout.write('start\n');
  const log = await Log.open(process.argv[2]!, { segmentSize: SEGMENT, mustExist: true });
  process.stdout.write(`opened ${log.lastIndex}\n`);
  for (;;) {
    const i = await log.append(freshRecord(Number(log.lastIndex) + 1));
    process.stdout.write(`acked ${i}\n`);
  }
}
void main();
