/**
 * Lists of buffers as one I/O call reads or writes them (pwritev/preadv): their total length, and
 * what is left of them after a short call.
 */

/** The sum of the buffers' lengths. */
export function totalLength(buffers: readonly Uint8Array[]): number {
  let n = 0;
  for (const b of buffers) n += b.length;
  return n;
}

/** The buffers after their first `bytes` bytes (a partly done one as its remainder). */
export function afterBytes(buffers: readonly Uint8Array[], bytes: number): Uint8Array[] {
  let left = bytes;
  let i = 0;
  while (i < buffers.length && left >= buffers[i]!.length) {
    left -= buffers[i]!.length;
    i++;
  }
  const rest = buffers.slice(i);
  if (left > 0 && rest.length > 0) rest[0] = rest[0]!.subarray(left);
  return rest;
}
