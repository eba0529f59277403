/**
 * Creates the JetStream stream the service forwards to (Debian ships nats-server, not the `nats`
 * CLI): file storage, `--replicas` copies (3 on a 3-node cluster: an ack then means a quorum has it).
 *
 *   node --import tsx examples/jetstream-ingest/setup-stream.ts --nats nats://127.0.0.1:4222 \
 *     --stream INGEST --subjects 'ingest.>' --replicas 3
 */
import { parseArgs } from 'node:util';
import { connect, StorageType } from 'nats';

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      nats: { type: 'string', default: 'nats://127.0.0.1:4222' },
      stream: { type: 'string', default: 'INGEST' },
      subjects: { type: 'string', default: 'ingest.>' },
      replicas: { type: 'string', default: '1' },
    },
  });
  const nc = await connect({ servers: values.nats!.split(',') });
  const jsm = await nc.jetstreamManager();
  const info = await jsm.streams.add({
    name: values.stream!,
    subjects: values.subjects!.split(','),
    storage: StorageType.File,
    num_replicas: Number(values.replicas),
  });
  console.log(
    JSON.stringify({
      stream: info.config.name,
      subjects: info.config.subjects,
      replicas: info.config.num_replicas,
      leader: info.cluster?.leader ?? null,
    }),
  );
  await nc.close();
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
