/**
 * Who waits for an index to become durable (`durable()`, `tail()` followers): woken when the
 * durable index reaches theirs, or all at once when the log closes, fails or is truncated.
 */
import { abortError, onAbort, throwIfAborted } from './abort';

interface Waiter {
  index: number;
  resolve: () => void;
}

export class DurabilityWaiters {
  private list: Waiter[] = [];

  /** Resolves once `notify` reaches `index` or `wakeAll` runs; rejects with a WalAbortError on `signal`. */
  wait(index: number, signal?: AbortSignal, what = 'wait'): Promise<void> {
    if (signal === undefined) return new Promise((resolve) => this.list.push({ index, resolve }));
    return new Promise((resolve, reject) => {
      throwIfAborted(signal, what);
      const w = { index, resolve: () => (detach(), resolve()) };
      const detach = onAbort(signal, () => {
        this.list = this.list.filter((x) => x !== w);
        reject(abortError(signal, what));
      });
      this.list.push(w);
    });
  }

  /** Wakes every waiter: followers re-check the log (closed, failed, truncated). */
  wakeAll(): void {
    const ws = this.list;
    this.list = [];
    for (const w of ws) w.resolve();
  }

  /** Wakes the waiters at or below `durable`. */
  notify(durable: number): void {
    const ws = this.list;
    if (ws.length === 0) return;
    const keep: Waiter[] = [];
    for (const w of ws) {
      if (w.index <= durable) w.resolve();
      else keep.push(w);
    }
    this.list = keep;
  }
}
