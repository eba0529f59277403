/**
 * The Log's side files of an etcd-format directory, for `wal stat`, `wal dump` and `wal consumer`:
 * the log id and the consumers' cursors (read without opening the log or taking any lock).
 */
import { defaultBackend } from '../io/backend';
import { WalError } from '../errors';
import { listStoredConsumers, type StoredConsumer } from '../log/consumer-admin';
import { readLogId } from '../log/log-id';

export interface LogMeta {
  /** null: no id file (not written by Log, or by a version before ids). */
  logId: string | null;
  logIdError: WalError | null;
  consumers: StoredConsumer[];
}

export async function readLogMeta(dir: string): Promise<LogMeta> {
  const io = defaultBackend;
  let logId: string | null = null;
  let logIdError: WalError | null = null;
  try {
    logId = await readLogId(io, dir);
  } catch (err) {
    if (!(err instanceof WalError)) throw err;
    logIdError = err;
  }
  return { logId, logIdError, consumers: await listStoredConsumers(io, dir, logId) };
}

/** The JSON form of one consumer, with its lag behind `lastIndex` (the log's last entry). */
export function consumerJson(c: StoredConsumer, lastIndex: bigint | number | null): Record<string, unknown> {
  const last = lastIndex === null ? null : BigInt(lastIndex);
  return {
    kind: 'consumer',
    name: c.name,
    committed: c.committed,
    lagRecords: c.committed === null || last === null ? null : last > c.committed ? last - c.committed : 0n,
    lastCommitAt: c.lastCommitAt?.toISOString() ?? null,
    error: c.error === null ? null : { code: c.error.code, message: c.error.message },
  };
}

/** One line per consumer: name, committed position, lag, last commit. */
export function consumerText(c: StoredConsumer, lastIndex: bigint | number | null): string {
  if (c.error !== null) return `${c.name}: ${c.error.code} ${c.error.message}`;
  const j = consumerJson(c, lastIndex);
  return `${c.name}: committed ${c.committed}, lag ${j['lagRecords'] ?? '?'} records, last commit ${c.lastCommitAt?.toISOString() ?? 'never'}`;
}
