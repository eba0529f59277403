/**
 * `nodewal/jetstream`: the JetStream sink for `forward()`. Needs the optional peer dependency
 * `nats` (2.29); loading this entry point without it works, creating a sink throws
 * ERR_WAL_FORWARD_CLIENT_MISSING.
 */
export { jetStreamSink, JetStreamSink } from './sink';
export type { JetStreamSinkOptions, JetStreamSinkStats } from './sink';
export { subjectMatches } from './subjects';
