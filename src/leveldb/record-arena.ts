/**
 * Memory for the records the LevelDB reader joins from fragments (a record that fits in one block
 * is a view into that block's buffer and needs none).
 */

/** Joined records are copied into shared buffers of this size... */
const ARENA = 64 * 1024;
/** ...unless smaller than this: Node's Buffer pool serves those faster. */
const SMALL_RECORD = 1024;

export class RecordArena {
  private arena = new ArrayBuffer(0);
  private used = 0;

  /** `fileSize`: no arena is larger than the file it serves. */
  constructor(private readonly fileSize: number) {}

  /**
   * `size` bytes for a record. Small ones come from Node's Buffer pool (8 KiB slabs, cheapest
   * below 1 KiB); larger ones are carved from a 64 KiB arena of our own, one ArrayBuffer per arena
   * instead of one per record (V8 allocates each ArrayBuffer separately: ~2 µs at 4 KiB).
   * Records larger than a quarter arena get their own buffer.
   */
  allocate(size: number): Uint8Array {
    if (size < SMALL_RECORD || size > ARENA / 4) return Buffer.allocUnsafe(size);
    if (this.arena.byteLength - this.used < size) {
      this.arena = new ArrayBuffer(Math.min(ARENA, Math.max(this.fileSize, size)));
      this.used = 0;
    }
    const out = new Uint8Array(this.arena, this.used, size);
    this.used += size;
    return out;
  }

  /** The fragments of a record, joined into `size` new bytes. */
  join(parts: Uint8Array[], size: number): Uint8Array {
    const out = this.allocate(size);
    let at = 0;
    for (const p of parts) {
      out.set(p, at);
      at += p.length;
    }
    return out;
  }
}
