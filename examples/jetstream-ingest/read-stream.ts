/**
 * A downstream reader: every batch on a subject of the stream, decoded back into records with the
 * package's decoder, printed as one JSON line per record (log id, index, bytes as text).
 *
 *   node --import tsx examples/jetstream-ingest/read-stream.ts --nats nats://127.0.0.1:4222 \
 *     --stream INGEST --subject ingest.host-a
 */
import { parseArgs } from 'node:util';
import { connect } from 'nats';
// In your own project: import { decodeBatch } from 'nodewal';
import { decodeBatch } from '../../src/index';

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      nats: { type: 'string', default: 'nats://127.0.0.1:4222' },
      stream: { type: 'string', default: 'INGEST' },
      subject: { type: 'string' },
    },
  });
  const nc = await connect({ servers: values.nats!.split(',') });
  const jsm = await nc.jetstreamManager();
  const { state } = await jsm.streams.info(values.stream!);
  for (let seq = state.first_seq; state.messages > 0 && seq <= state.last_seq; seq++) {
    const m = await jsm.streams.getMessage(values.stream!, { seq }).catch(() => null); // null: deleted
    if (m === null || (values.subject !== undefined && m.subject !== values.subject)) continue;
    const { logId, records } = decodeBatch(m.header, m.data);
    for (const r of records) console.log(JSON.stringify({ logId, index: r.index.toString(), data: Buffer.from(r.data).toString() }));
  }
  await nc.close();
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
