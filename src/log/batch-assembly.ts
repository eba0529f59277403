/**
 * A consumer batch being put together under `maxBytes`, shared by the batch readers
 * (batch-reader.ts, read-only-batch-reader.ts): an entry that would take a batch past the bound is
 * held over and comes first in the next one (a first entry always goes in, however large).
 */
import type { LogEntry } from './log-types';

export class BatchAssembly {
  private held: LogEntry | null = null;
  private out: LogEntry[] = [];
  private bytes = 0;

  /** The index of the entry held over for the next batch, or null. */
  get heldIndex(): number | null {
    return this.held === null ? null : Number(this.held.index);
  }

  /** Starts a batch, with the entry held over from the last one first. */
  begin(): LogEntry[] {
    this.out = [];
    this.bytes = 0;
    if (this.held !== null) {
      this.out.push(this.held);
      this.bytes = this.held.data.length;
      this.held = null;
    }
    return this.out;
  }

  /** Adds `entry`; false when it is held over instead (the batch is then done). */
  take(entry: LogEntry, maxBytes: number): boolean {
    const n = entry.data.length;
    if (this.out.length > 0 && this.bytes + n > maxBytes) {
      this.held = entry;
      return false;
    }
    this.out.push(entry);
    this.bytes += n;
    return true;
  }

  /** Forgets a held-over entry (the reader is closing). */
  clear(): void {
    this.held = null;
  }
}
