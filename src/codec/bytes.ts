/** Byte-slice helpers shared by the format readers. */

export const EMPTY_BYTES = new Uint8Array(0);

/** nil and empty compare equal, as Go's bytes.Equal. */
export function bytesEqual(a: Uint8Array | null, b: Uint8Array | null): boolean {
  const x = a ?? EMPTY_BYTES;
  const y = b ?? EMPTY_BYTES;
  if (x.length !== y.length) return false;
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return false;
  return true;
}
