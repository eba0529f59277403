/**
 * A writer process for the kill -9 tests: appends records `g<gen>:<k>:<filler>` in concurrent
 * bursts to the Log in argv[2] and prints `acked <k>` once record k (and all before it) resolved,
 * until it is killed.
 */
import { Log } from '../../../src/log/log';

const [dir, genArg] = process.argv.slice(2);
const gen = Number(genArg);

async function main(): Promise<void> {
  const log = await Log.open(dir!);
  let k = 0;
  for (;;) {
    const burst: Promise<bigint>[] = [];
    for (let i = 0; i < 50; i++) {
      k++;
      burst.push(log.append(`g${gen}:${k}:${'x'.repeat(k % 97)}`));
    }
    await Promise.all(burst);
    process.stdout.write(`acked ${k}\n`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`writer-child: ${String((err as Error)?.stack ?? err)}\n`);
  process.exit(1);
});
