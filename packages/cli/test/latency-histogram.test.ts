import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { LatencyHistogram } from "../src/bench/latency-histogram.js";

describe("LatencyHistogram", () => {
  it("buckets hold every call, each in the bucket whose range contains it, in the 1-2-5 series", () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: 600_000_000 }), { minLength: 1, maxLength: 200 }), (values) => {
        const h = new LatencyHistogram();
        for (const v of values) h.record(v);
        const buckets = h.buckets();
        expect(buckets.reduce((n, b) => n + b.count, 0)).toBe(values.length);
        for (const v of values) {
          const holder = buckets.find((b) => b.fromUs <= v && v < b.toUs) ?? (v === 600_000_000 ? buckets[buckets.length - 1] : undefined);
          expect(holder?.count ?? 0).toBeGreaterThan(0);
        }
        for (const b of buckets) expect(String(b.fromUs)).toMatch(/^(0|[125]0*)$/);
      }),
    );
  });

  it("percentiles are ordered, within the recorded range, and within 0.1 % of the exact ones", () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: 10_000_000 }), { minLength: 1, maxLength: 300 }), (values) => {
        const h = new LatencyHistogram();
        for (const v of values) h.record(v);
        const p = h.percentiles();
        const sorted = [...values].sort((a, b) => a - b);
        expect(h.minUs).toBe(sorted[0]);
        expect(h.maxUs).toBeGreaterThanOrEqual(sorted[sorted.length - 1] as number);
        expect(h.minUs).toBeLessThanOrEqual(p.p50);
        expect(p.p50).toBeLessThanOrEqual(p.p90);
        expect(p.p90).toBeLessThanOrEqual(p.p99);
        expect(p.p99).toBeLessThanOrEqual(p.p999);
        expect(p.p999).toBeLessThanOrEqual(h.maxUs);
        const exact = sorted[Math.ceil(0.5 * sorted.length) - 1] as number;
        expect(Math.abs(p.p50 - exact)).toBeLessThanOrEqual(Math.max(1, exact * 0.001));
      }),
    );
  });

  it("an empty histogram reports zeros and no buckets", () => {
    const h = new LatencyHistogram();
    expect([h.count, h.minUs, h.maxUs, h.meanUs, h.at(50)]).toEqual([0, 0, 0, 0, 0]);
    expect(h.buckets()).toEqual([]);
  });
});
