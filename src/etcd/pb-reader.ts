/**
 * The protobuf wire reader under every etcd message decoder: bounds-checked varints, bytes and
 * field skipping with the errors Go's gogoproto decoder gives, and the strict/lenient rules.
 */
import { VARINT_TRUNCATED, getUvarint32, getUvarintBig, scanUvarint } from '../codec/varint';
import { WalError, WalErrorCodes } from '../errors';

const U64_MAX = (1n << 64n) - 1n;

/** Throws ERR_WAL_INVALID_ARGUMENT unless `v` is a uint64. */
export function checkU64(v: bigint, what: string): void {
  if (typeof v !== 'bigint' || v < 0n || v > U64_MAX) {
    throw new WalError(WalErrorCodes.INVALID_ARGUMENT, `${what} must be a bigint in [0, 2^64)`);
  }
}

// ---------------------------------------------------------------------------------------------
// Decoding helpers

export function corrupt(what: string, offset: number): WalError {
  return new WalError(WalErrorCodes.CORRUPT_PAYLOAD, `${what} at byte ${offset} of the message`);
}

/** A cursor over one message; every read is bounds-checked. */
export class PbReader {
  pos: number;
  constructor(
    readonly buf: Uint8Array,
    readonly what: string,
    readonly lenient = false,
  ) {
    this.pos = 0;
  }

  get done(): boolean {
    return this.pos >= this.buf.length;
  }

  /** A varint as bigint (up to 10 bytes, as Go's decoder; more is "integer overflow"). */
  varintBig(): bigint {
    const start = this.pos;
    this.pos = this.scan();
    return getUvarintBig(this.buf, start);
  }

  /** A varint known to be small in valid data; larger values are truncated to their low 32 bits like Go's uint32. */
  varintU32(): number {
    const start = this.pos;
    this.pos = this.scan();
    return getUvarint32(this.buf, start);
  }

  /** The end of the varint at `pos`, or the error Go's decoder gives. */
  private scan(): number {
    const next = scanUvarint(this.buf, this.pos, this.buf.length);
    if (next >= 0) return next;
    throw corrupt(next === VARINT_TRUNCATED ? `${this.what}: truncated varint` : `${this.what}: varint overflows 64 bits`, this.pos);
  }

  /** A varint as a JS number when it fits 2^53, else Number of the low 64 bits (for lengths: caller bounds it). */
  varintLength(): number {
    const v = this.varintBig();
    return v > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(v);
  }

  /** Length-delimited bytes as a view into the buffer (no copy). */
  bytes(): Uint8Array {
    const start = this.pos;
    const len = this.varintLength();
    if (len > this.buf.length - this.pos) throw corrupt(`${this.what}: length ${len} runs past the end`, start);
    const out = this.buf.subarray(this.pos, this.pos + len);
    this.pos += len;
    return out;
  }

  /** Skips an unknown field of the given wire type (proto2 keeps them; etcd never rejects them). */
  skip(wireType: number, fieldNumber: number, depth = 0): void {
    switch (wireType) {
      case 0:
        this.varintBig();
        return;
      case 1:
        this.advance(8);
        return;
      case 2: {
        const start = this.pos;
        const len = this.varintLength();
        if (len > this.buf.length - this.pos) throw corrupt(`${this.what}: length ${len} runs past the end`, start);
        this.pos += len;
        return;
      }
      case 3: {
        // Group: skip fields until the matching end-group tag.
        if (depth > 64) throw corrupt(`${this.what}: groups nested too deeply`, this.pos);
        for (;;) {
          if (this.done) throw corrupt(`${this.what}: unterminated group`, this.pos);
          const tag = this.varintBig();
          const wt = Number(tag & 7n);
          const fn = Number(tag >> 3n);
          if (wt === 4) {
            if (fn !== fieldNumber) throw corrupt(`${this.what}: mismatched end group`, this.pos);
            return;
          }
          if (fn <= 0) throw corrupt(`${this.what}: illegal field number`, this.pos);
          this.skip(wt, fn, depth + 1);
        }
      }
      case 5:
        this.advance(4);
        return;
      default:
        throw corrupt(`${this.what}: illegal wire type ${wireType}`, this.pos);
    }
  }

  private advance(n: number): void {
    if (n > this.buf.length - this.pos) throw corrupt(`${this.what}: truncated field`, this.pos);
    this.pos += n;
  }

  /** Reads a tag; returns [fieldNumber, wireType]. */
  tag(): [number, number] {
    const start = this.pos;
    const t = this.varintBig();
    const fn = t >> 3n;
    const wt = Number(t & 7n);
    if (fn <= 0n || fn > 0x1fffffffn) throw corrupt(`${this.what}: illegal field number ${fn}`, start);
    if (wt === 4) throw corrupt(`${this.what}: unexpected end group`, start);
    return [Number(fn), wt];
  }

  expectWire(actual: number, expected: number, field: number): void {
    if (actual !== expected) {
      throw corrupt(`${this.what}: wrong wire type ${actual} for field ${field}`, this.pos);
    }
  }

  /**
   * True when a known field has the wire type its schema says. Otherwise Go's rules throw; the
   * lenient rules return false and the caller skips the field as an unknown one.
   */
  wireIs(actual: number, expected: number, field: number): boolean {
    if (actual === expected) return true;
    if (!this.lenient) this.expectWire(actual, expected, field);
    return false;
  }
}

/**
 * How strictly to decode. Go's rules (the default) are gogoproto's: a known field of the wrong
 * wire type is an error. `lenient` (the Log's reader) skips such a field as if it were unknown.
 */
export interface DecodeRules {
  lenient?: boolean;
}

/** The Log's decoding rules. */
export const LENIENT: Readonly<DecodeRules> = Object.freeze({ lenient: true });

/** int64 -> JS number, keeping negative values (Go's int64 of the uint64 bit pattern). */
export function int64ToNumber(v: bigint): number {
  return Number(BigInt.asIntN(64, v));
}
