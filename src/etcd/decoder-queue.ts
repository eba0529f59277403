/**
 * The arrays a Decoder parses a buffer's frames into before one CRC call checks them all (parallel
 * arrays, one slot per frame). Allocating them costs more than decoding a few kilobytes, so a
 * caller whose decoders never run at the same time (the Log's synchronous lookups) shares one.
 */
export class DecoderQueue {
  type: Int32Array;
  crc: Uint32Array;
  start: Int32Array;
  end: Int32Array;
  offset: Float64Array;
  frameLen: Int32Array;
  /** The running CRC after each frame. */
  running: Uint32Array;

  constructor(slots = 256) {
    const n = Math.max(1, slots);
    this.type = new Int32Array(n);
    this.crc = new Uint32Array(n);
    this.start = new Int32Array(n);
    this.end = new Int32Array(n);
    this.offset = new Float64Array(n);
    this.frameLen = new Int32Array(n);
    this.running = new Uint32Array(n);
  }

  /** Doubles every array, keeping what they hold. */
  grow(): void {
    const n = this.type.length * 2;
    const grown = <T extends Int32Array | Uint32Array | Float64Array>(a: T, b: T): T => {
      b.set(a as never);
      return b;
    };
    this.type = grown(this.type, new Int32Array(n));
    this.crc = grown(this.crc, new Uint32Array(n));
    this.start = grown(this.start, new Int32Array(n));
    this.end = grown(this.end, new Int32Array(n));
    this.offset = grown(this.offset, new Float64Array(n));
    this.frameLen = grown(this.frameLen, new Int32Array(n));
    this.running = grown(this.running, new Uint32Array(n));
  }
}
