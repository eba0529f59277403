/**
 * Reads a subject's batches back out of a stream, message by message in stream order, through the
 * package's public decoder: what a downstream reader would see.
 */
import type { NatsConnection } from 'nats';
import { decodeBatch } from '../../../src/forward/batch';
import type { BatchRecord } from '../../../src/forward/batch';

export interface ReadBack {
  /** Each message on the subject: its stream sequence and the range its headers name. */
  batches: { seq: number; logId: string; first: bigint; last: bigint }[];
  records: BatchRecord[];
}

export async function readBack(nc: NatsConnection, stream: string, subject: string): Promise<ReadBack> {
  const jsm = await nc.jetstreamManager();
  const info = await jsm.streams.info(stream);
  const out: ReadBack = { batches: [], records: [] };
  for (let seq = info.state.first_seq; seq <= info.state.last_seq && info.state.messages > 0; seq++) {
    let m;
    try {
      m = await jsm.streams.getMessage(stream, { seq });
    } catch (err) {
      if ((err as { api_error?: { err_code?: number } }).api_error?.err_code === 10037) continue; // deleted
      throw err;
    }
    if (m.subject !== subject) continue;
    const b = decodeBatch(m.header, m.data);
    out.batches.push({ seq, logId: b.logId, first: b.first, last: b.last });
    for (const r of b.records) out.records.push({ index: r.index, data: Uint8Array.from(r.data) });
  }
  return out;
}
