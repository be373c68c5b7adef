import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { didYouMean, editDistance, nearNames } from "../src/suggest.js";

describe("editDistance", () => {
  it("counts insertions, deletions, substitutions and adjacent swaps", () => {
    expect(editDistance("Echo", "Echo")).toBe(0);
    expect(editDistance("Ech", "Echo")).toBe(1);
    expect(editDistance("Ecoh", "Echo")).toBe(1);
    expect(editDistance("Exho", "Echo")).toBe(1);
    expect(editDistance("", "abc")).toBe(3);
  });

  it("is a metric-like distance: zero only for equal strings, symmetric, at most the longer length", () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 12 }), fc.string({ maxLength: 12 }), (a, b) => {
        const d = editDistance(a, b);
        expect(d === 0).toBe(a === b);
        expect(editDistance(b, a)).toBe(d);
        expect(d).toBeLessThanOrEqual(Math.max(a.length, b.length));
      }),
    );
  });
});

describe("nearNames", () => {
  const services = ["echo.v1.EchoService", "EchoService", "kv.v1.KvService", "KvService"];

  it("suggests names a typo away, best first, and nothing for unrelated input", () => {
    expect(nearNames("EchoServise", services)).toEqual(["EchoService"]);
    expect(nearNames("echo.v1.EchoServce", services)).toEqual(["echo.v1.EchoService"]);
    expect(nearNames("echo", ["Echo", "Count", "Fail"])).toEqual(["Echo"]);
    expect(nearNames("Zebra", services)).toEqual([]);
  });

  it("phrases the hint for one or several names", () => {
    expect(didYouMean("Ech", ["Echo", "Count"])).toBe('; did you mean "Echo"?');
    expect(didYouMean("Kv", ["Kv1", "Kv2"])).toBe('; did you mean "Kv1" or "Kv2"?');
    expect(didYouMean("zzz", ["Echo"])).toBe("");
  });
});
