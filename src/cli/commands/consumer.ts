/**
 * `wal consumer DIR [list | reset NAME --to INDEX | delete NAME]`: the durable consumers of a Log
 * directory. reset and delete change a cursor file, so they ask first (or need --yes) and refuse a
 * consumer that is open anywhere.
 */
import { UsageError } from '../args';
import { COMMON_OPTIONS } from '../args';
import type { Command, Context } from '../command';
import { EXIT } from '../command';
import { confirm } from '../confirm';
import { detect } from '../detect';
import { scanEtcd } from '../etcd-scan';
import { consumerJson, consumerText, readLogMeta } from '../log-meta';
import { defaultBackend } from '../../io/backend';
import { removeConsumer, resetConsumer } from '../../log/consumer-admin';

export const consumer: Command = {
  name: 'consumer',
  help: `Usage: wal consumer DIR [list]
       wal consumer DIR reset NAME --to INDEX [--yes]
       wal consumer DIR delete NAME [--yes]

The durable consumers of a Log directory (docs/consumers.md). 'list' (the default) prints each
consumer's committed position, its lag behind the last record and its last commit. 'reset' sets
the committed position to INDEX (the consumer next delivers INDEX + 1; it also acknowledges a
pending truncateBack report). 'delete' removes the consumer. Both refuse a consumer that is open
in any process (ERR_WAL_LOCKED) and ask first on a terminal; otherwise they need --yes.

Options:
  --to INDEX          reset: the new committed position (0 .. the last record)
  -y, --yes           do not ask; needed when stdin is not a terminal
  --json              one JSON object per line
  -h, --help          this help

Exit status: 0 done, 1 refused or failed, 2 usage error.`,
  options: { ...COMMON_OPTIONS, to: { type: 'integer', min: 0 }, yes: { type: 'boolean', short: 'y' } },
  async run({ options, positionals }, ctx) {
    const [dirArg, action = 'list', name, ...extra] = positionals;
    if (dirArg === undefined) throw new UsageError('wal consumer needs a Log directory');
    if (extra.length > 0) throw new UsageError(`unexpected arguments: ${extra.join(' ')}`);
    const target = detect(dirArg, 'etcd');
    if (target.format !== 'etcd' || target.single) throw new UsageError('wal consumer works on a Log directory');
    const dir = target.dir;
    const { out } = ctx;
    const meta = await readLogMeta(dir);
    if (action === 'list') {
      if (name !== undefined) throw new UsageError('list takes no name');
      const scan = await scanEtcd(target);
      out.line(`log id: ${meta.logId ?? (meta.logIdError ? `${meta.logIdError.code}` : 'none')}`);
      if (meta.consumers.length === 0) out.line('no consumers');
      for (const c of meta.consumers) {
        out.line(`  ${consumerText(c, scan.lastEntry)}`);
        out.record(consumerJson(c, scan.lastEntry));
      }
      return meta.consumers.some((c) => c.error !== null) ? EXIT.PROBLEM : EXIT.OK;
    }
    if (action !== 'reset' && action !== 'delete') throw new UsageError(`unknown action '${action}': list, reset or delete`);
    if (name === undefined) throw new UsageError(`${action} needs a consumer name`);
    const current = meta.consumers.find((c) => c.name === name);
    if (current === undefined) {
      ctx.err(`wal consumer: no consumer '${name}' in ${dir}`);
      return EXIT.PROBLEM;
    }
    if (action === 'delete') {
      if (options['to'] !== undefined) throw new UsageError('--to is for reset');
      out.line(`delete consumer ${consumerText(current, null)}`);
      if (!(await mayProceed(options['yes'] === true, ctx))) return EXIT.PROBLEM;
      await removeConsumer(defaultBackend, dir, name);
      out.line(`deleted consumer '${name}'`);
      out.record({ kind: 'result', action: 'delete', name });
      return EXIT.OK;
    }
    const to = options['to'];
    if (typeof to !== 'number') throw new UsageError('reset needs --to INDEX');
    if (meta.logId === null) {
      ctx.err(`wal consumer: ${dir} has no readable log id (${meta.logIdError?.code ?? 'missing'})`);
      return EXIT.PROBLEM;
    }
    const scan = await scanEtcd(target);
    const last = scan.lastEntry === null ? 0n : BigInt(scan.lastEntry);
    if (BigInt(to) > last) throw new UsageError(`--to ${to} is past the last record (${last})`);
    out.line(`reset consumer '${name}' from ${current.committed ?? 'unreadable'} to ${to}: it next delivers ${to + 1}`);
    if (!(await mayProceed(options['yes'] === true, ctx))) return EXIT.PROBLEM;
    const { before } = await resetConsumer(defaultBackend, dir, name, BigInt(to), meta.logId);
    out.line(`consumer '${name}' committed position is now ${to}`);
    out.record({ kind: 'result', action: 'reset', name, before, committed: BigInt(to) });
    return EXIT.OK;
  },
};

async function mayProceed(yes: boolean, ctx: Context): Promise<boolean> {
  if (yes) return true;
  if (!ctx.interactive) throw new UsageError('refusing to change a consumer without confirmation: stdin is not a terminal; pass --yes');
  ctx.out.flush();
  if (await confirm('Proceed?')) return true;
  ctx.err('aborted: nothing changed');
  return false;
}
