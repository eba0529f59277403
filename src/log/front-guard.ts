/**
 * truncateFront's guard: records a consumer has not durably committed are not dropped unless the
 * caller forces it. Positions are read from the consumer journals after an fdatasync of each, so a
 * segment is only deleted once every position that stops referring to it is durable.
 */
import { WalError, WalErrorCodes } from '../errors';
import type { ConsumerHost } from './consumer-host';

/** Throws ERR_WAL_CONSUMER_UNCOMMITTED when truncateFront(index) would drop uncommitted records. */
export async function checkFrontTruncation(host: ConsumerHost, index: number): Promise<void> {
  const behind = (await host.durableCommits()).filter((c) => c.committed + 1 < index);
  if (behind.length === 0) return;
  const list = behind.map((c) => `'${c.name}' at ${c.committed}`).join(', ');
  throw new WalError(
    WalErrorCodes.CONSUMER_UNCOMMITTED,
    `truncateFront(${index}) would drop records consumers have not committed (${list}); pass { force: true } to drop them anyway`,
    { file: host.dir },
  );
}
