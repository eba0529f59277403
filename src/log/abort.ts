/**
 * AbortSignal plumbing for the waits of Log: a blocked append, `durable()`, `entries()` and `tail()`.
 * An abort only ever withdraws a caller from a wait; it never interrupts a write in progress.
 */
import { WalAbortError } from '../errors';

export function abortError(signal: AbortSignal, what: string): WalAbortError {
  return new WalAbortError(`${what} aborted`, signal.reason);
}

export function throwIfAborted(signal: AbortSignal | undefined, what: string): void {
  if (signal?.aborted === true) throw abortError(signal, what);
}

/**
 * Runs `onAbort` once if `signal` fires before `detach()` is called. Returns `detach`, which the
 * caller calls when its wait ends normally (so long-lived signals do not collect listeners).
 */
export function onAbort(signal: AbortSignal | undefined, onAbortFn: () => void): () => void {
  if (signal === undefined) return noop;
  const listener = (): void => onAbortFn();
  signal.addEventListener('abort', listener, { once: true });
  return () => signal.removeEventListener('abort', listener);
}

function noop(): void {}
