/**
 * What a writable Log should hold after appends and truncations, for property tests that apply
 * the same generated operations to a Log and to this model. Each appended record gets its own fill
 * byte, so a read from a stale file or offset shows.
 */
import type { Log } from '../../src/log/log';

export type ModelOp = { kind: 'append'; sizes: number[] } | { kind: 'front'; at: number } | { kind: 'back'; at: number };

export class LogModel {
  /** Index of records[0]. */
  first = 1;
  records: Buffer[] = [];
  private counter = 0;

  /** The record at `index`. */
  at(index: number): Buffer {
    return this.records[index - this.first]!;
  }

  /** Applies `op` (its `at` a fraction of the records held) to `log` and to the model. */
  async apply(log: Log, op: ModelOp, opts: { force?: boolean } = {}): Promise<void> {
    if (op.kind === 'append') {
      const datas = op.sizes.map((n) => Buffer.alloc(n, (this.counter++ % 251) + 1));
      await log.appendBatch(datas);
      this.records.push(...datas);
    } else if (op.kind === 'front') {
      const at = this.first + Math.min(this.records.length, Math.floor(op.at * (this.records.length + 1)));
      await log.truncateFront(BigInt(at), opts.force === true ? { force: true } : undefined);
      this.records = this.records.slice(at - this.first);
      this.first = at;
    } else {
      const at = this.first - 1 + Math.min(this.records.length, Math.floor(op.at * (this.records.length + 1)));
      await log.truncateBack(BigInt(at));
      this.records = this.records.slice(0, at - this.first + 1);
    }
  }
}
