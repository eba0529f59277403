/**
 * Child process / worker body for the cross-process consumer tests (not a test file itself): opens
 * the log read-only, consumes with consumer `name` committing every batch, and prints one JSON line
 * per batch `{ first, last, ok }` (ok: every record's data matches `payload(index)`), then `{ done }`
 * once it has committed `until`.
 */
import { Log } from '../../src/log/log';

export function payload(i: number): Buffer {
  return Buffer.from(`rec ${i} ${'y'.repeat(i % 37)}`);
}

export async function consume(dir: string, name: string, until: number, emit: (m: unknown) => void): Promise<void> {
  const log = await Log.open(dir, { readOnly: true, pollMs: 2 });
  const c = await log.consumer(name);
  emit({ opened: true, committed: c.committed.toString() });
  while (c.committed < BigInt(until)) {
    const batch = await c.read({ maxRecords: 64, timeoutMs: 1000 });
    if (batch.length === 0) continue;
    const ok = batch.every((e) => payload(Number(e.index)).equals(Buffer.from(e.data)));
    emit({ first: Number(batch[0]!.index), last: Number(batch[batch.length - 1]!.index), ok, at: Date.now() });
    await c.commit(batch[batch.length - 1]!.index);
  }
  await c.close();
  await log.close();
  emit({ done: true });
}

if (require.main === module) {
  const [dir, name, until] = process.argv.slice(2);
  consume(dir!, name!, Number(until), (m) => process.stdout.write(`${JSON.stringify(m)}\n`)).catch((err) => {
    process.stdout.write(`${JSON.stringify({ error: String(err), code: (err as { code?: string }).code })}\n`);
    process.exitCode = 1;
  });
}
