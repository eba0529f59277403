/**
 * A latency histogram with constant memory and ~6% relative error: values (microseconds) fall into
 * log-linear buckets — 16 linear sub-buckets per power of two — like HdrHistogram at low precision.
 * Recording is a few arithmetic operations, cheap enough to run on every fdatasync.
 */

const SUB_BITS = 4;
const SUB = 1 << SUB_BITS;
/** Powers of two covered: up to 2^40 µs (~12 days); larger values land in the last bucket. */
const MAX_POW = 40;

/** Percentiles of recorded durations, in microseconds. */
export interface LatencySummary {
  count: number;
  p50: number;
  p99: number;
  max: number;
  mean: number;
}

/** Log-linear histogram of durations in microseconds. */
export class LatencyHistogram {
  private readonly counts = new Float64Array((MAX_POW + 1) * SUB);
  private total = 0;
  private sum = 0;
  private maxValue = 0;

  /** Records one duration in microseconds (negative values count as 0). */
  record(micros: number): void {
    const v = micros > 0 ? micros : 0;
    this.counts[bucketOf(v)]! += 1;
    this.total++;
    this.sum += v;
    if (v > this.maxValue) this.maxValue = v;
  }

  /** The value below which `q` (0..1) of the recordings fall, as the upper edge of its bucket (capped at max). */
  quantile(q: number): number {
    if (this.total === 0) return 0;
    const rank = Math.max(1, Math.ceil(q * this.total));
    let seen = 0;
    for (let i = 0; i < this.counts.length; i++) {
      seen += this.counts[i]!;
      if (seen >= rank) return Math.min(upperEdge(i), this.maxValue);
    }
    return this.maxValue;
  }

  /** count, p50, p99, max and mean. */
  summary(): LatencySummary {
    return {
      count: this.total,
      p50: this.quantile(0.5),
      p99: this.quantile(0.99),
      max: this.maxValue,
      mean: this.total === 0 ? 0 : this.sum / this.total,
    };
  }
}

function bucketOf(v: number): number {
  if (v < SUB) return Math.floor(v);
  const pow = Math.min(MAX_POW, Math.floor(Math.log2(v)));
  if (pow >= MAX_POW) return MAX_POW * SUB + SUB - 1;
  // Within [2^pow, 2^(pow+1)): SUB equal slices.
  const sub = Math.floor((v / 2 ** pow - 1) * SUB);
  return (pow - SUB_BITS + 1) * SUB + Math.min(sub, SUB - 1);
}

function upperEdge(bucket: number): number {
  if (bucket < SUB) return bucket + 1;
  const pow = Math.floor(bucket / SUB) + SUB_BITS - 1;
  const sub = bucket % SUB;
  return 2 ** pow * (1 + (sub + 1) / SUB);
}
