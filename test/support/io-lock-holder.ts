// Child process for io-lock.test.ts: opens the file through the backend WAL_NATIVE selects,
// takes the lock without waiting, prints "locked" (or "refused <code>"), and holds it until
// its stdin closes or sends a line, then closes the file and prints "released".
import { defaultBackend as io } from '../../src/io/backend';

async function main(): Promise<void> {
  const file = process.argv[2]!;
  const f = await io.open(file, { write: true, create: true });
  try {
    await f.lock({ wait: false });
  } catch (err) {
    process.stdout.write(`refused ${(err as NodeJS.ErrnoException).code}\n`);
    await f.close();
    return;
  }
  process.stdout.write('locked\n');
  await new Promise<void>((resolve) => {
    process.stdin.once('data', () => resolve());
    process.stdin.once('end', () => resolve());
  });
  await f.close();
  process.stdout.write('released\n');
  process.stdin.destroy();
}

void main();
