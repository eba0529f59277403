/** What `Log.stats()` reports: the counters, the fsync latencies, the queue and the files. */
import type { AppendQueue } from './append-queue';
import type { LogCore } from './log-core';
import type { LogStats } from './log-types';
import type { Retention } from './retention';
import { statsToJSON } from './stats-json';

export function logStats(core: LogCore, queue: AppendQueue, repaired: string | null, retention: Retention | null): LogStats {
  const { io, opts, writer } = core;
  return statsToJSON({
    ...core.counters,
    fsyncLatency: core.hist.summary(),
    queueDepth: queue.depth,
    queuedBytes: queue.queuedBytes,
    blockedAppends: queue.blockedCount,
    segments: core.segments.length,
    firstIndex: BigInt(core.firstIndexN()),
    lastIndex: BigInt(core.written),
    durableIndex: BigInt(core.durableN),
    backend: io.kind,
    direct: writer.direct,
    directUnavailable:
      opts.direct && !writer.direct
        ? io.kind === 'fallback'
          ? 'the fallback backend cannot do O_DIRECT'
          : 'the filesystem refused O_DIRECT'
        : null,
    repaired,
    preparation: core.preparer.preparation,
    retention: retention === null ? null : { ...retention.stats },
  });
}
