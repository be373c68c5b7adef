import * as hdr from "hdr-histogram-js";

/** Latency percentiles in microseconds. */
export interface LatencyPercentiles {
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  readonly p999: number;
}

/** One bar of the latency histogram: calls that took from `fromUs` up to (not including) `toUs`. */
export interface LatencyBucket {
  readonly fromUs: number;
  readonly toUs: number;
  readonly count: number;
}

/** The largest latency recorded: 10 minutes, in µs; longer calls are recorded as this. */
const HIGHEST_US = 600_000_000;

const STEPS = [1, 2, 5] as const;
/** Buckets of the 1-2-5 series from 1 µs past HIGHEST_US (9 decades). */
const BUCKETS = 9 * STEPS.length;

/** Where bucket k starts, µs: 1, 2, 5, 10, 20, 50 … */
function bucketStart(k: number): number {
  return (STEPS[k % STEPS.length] as number) * 10 ** Math.floor(k / STEPS.length);
}

/** The bucket of a latency of `us` (≥ 1) µs. */
function bucketOf(us: number): number {
  let decade = Math.floor(Math.log10(us));
  // log10 may land a hair off at exact powers of ten.
  if (10 ** (decade + 1) <= us) decade++;
  else if (10 ** decade > us) decade--;
  const mantissa = us / 10 ** decade;
  const step = mantissa < 2 ? 0 : mantissa < 5 ? 1 : 2;
  return Math.min(BUCKETS - 1, decade * STEPS.length + step);
}

/**
 * Call latencies in microseconds. Percentiles come from an HDR histogram
 * (3 significant digits, the settings `npm run bench` uses, so figures from
 * the two are computed alike); the bars of the printed histogram from
 * buckets of the 1-2-5 series counted beside it.
 */
export class LatencyHistogram {
  private readonly hdr = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: HIGHEST_US, numberOfSignificantValueDigits: 3 });
  /** Calls per bucket of the 1-2-5 series (1, 2, 5, 10, 20, 50 … µs): bucket k starts at bucketStart(k). */
  private readonly bucketCounts = new Array<number>(BUCKETS).fill(0);
  private sumUs = 0;

  /** Records one call that took `us` microseconds. */
  record(us: number): void {
    const v = Math.min(HIGHEST_US, Math.max(1, Math.round(us)));
    this.hdr.recordValue(v);
    this.sumUs += v;
    const k = bucketOf(v);
    this.bucketCounts[k] = (this.bucketCounts[k] as number) + 1;
  }

  /** Calls recorded. */
  get count(): number {
    return this.hdr.totalCount;
  }

  /** Mean latency, µs (0 when empty). */
  get meanUs(): number {
    return this.count === 0 ? 0 : this.sumUs / this.count;
  }

  /** Fastest call, µs (0 when empty). */
  get minUs(): number {
    return this.count === 0 ? 0 : this.hdr.minNonZeroValue;
  }

  /** Slowest call, µs (0 when empty). */
  get maxUs(): number {
    return this.count === 0 ? 0 : this.hdr.maxValue;
  }

  /** The latency at a percentile (0–100), µs: the top of its HDR bucket, but never past the slowest call. */
  at(percentile: number): number {
    return this.count === 0 ? 0 : Math.min(this.hdr.getValueAtPercentile(percentile), this.maxUs);
  }

  /** p50, p90, p99 and p99.9, µs. */
  percentiles(): LatencyPercentiles {
    return { p50: this.at(50), p90: this.at(90), p99: this.at(99), p999: this.at(99.9) };
  }

  /** The buckets (1-2-5 series) from the first to the last that holds a call. */
  buckets(): LatencyBucket[] {
    const first = this.bucketCounts.findIndex((c) => c > 0);
    if (first < 0) return [];
    let last = this.bucketCounts.length - 1;
    while ((this.bucketCounts[last] as number) === 0) last--;
    const out: LatencyBucket[] = [];
    for (let k = first; k <= last; k++)
      out.push({ fromUs: bucketStart(k), toUs: bucketStart(k + 1), count: this.bucketCounts[k] as number });
    return out;
  }

  /** The HDR histogram in its standard compressed base64 form (HdrHistogram's tools read it). */
  encoded(): string {
    return hdr.encodeIntoCompressedBase64(this.hdr);
  }
}
