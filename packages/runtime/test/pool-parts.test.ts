/**
 * The pool's parts on their own: target parsing, backoff delays, pickers,
 * rendezvous hashing (property tests), the retry budget, and the
 * idempotency marks generated definitions carry.
 */
import fc from "fast-check";
import { MethodOptions_IdempotencyLevel } from "@bufbuild/protobuf/wkt";
import { describe, expect, it } from "vitest";
import { Backoff, checkBackoff } from "../src/pool/backoff.js";
import { pickLeastOutstanding, pickRoundRobin, type Pickable } from "../src/pool/pickers.js";
import { hashString, rendezvousScore } from "../src/pool/rendezvous.js";
import { checkRetry, RetryBudget } from "../src/pool/retry-budget.js";
import { resolverOf } from "../src/pool/target.js";
import { TallyServiceDefinition } from "./support/tally.js";

describe("targets", () => {
  it("parses host:port, IPv6, lists, unix sockets", async () => {
    const endpoints = async (t: Parameters<typeof resolverOf>[0]) => resolverOf(t).resolve(new AbortController().signal);
    expect(await endpoints("10.0.0.1:7000")).toEqual([{ host: "10.0.0.1", port: 7000 }]);
    expect(await endpoints("[::1]:7000")).toEqual([{ host: "::1", port: 7000 }]);
    expect(await endpoints("a:1, b:2")).toEqual([
      { host: "a", port: 1 },
      { host: "b", port: 2 },
    ]);
    expect(await endpoints(["a:1", "unix:///run/x.sock"])).toEqual([{ host: "a", port: 1 }, { path: "/run/x.sock" }]);
    expect(await endpoints("unix:/run/y.sock")).toEqual([{ path: "/run/y.sock" }]);
    expect(await endpoints("unix:relative.sock")).toEqual([{ path: "relative.sock" }]);
    expect(resolverOf("a:1,b:2").static).toBe(true);
    expect(resolverOf("dns:///name:80").static).toBeUndefined();
    expect(resolverOf("dns://127.0.0.1:5353/name:80").name).toBe("dns://127.0.0.1:5353/name:80");
    expect(resolverOf("srv:///_x._tcp.name").name).toBe("srv:///_x._tcp.name");
    expect(() => resolverOf("dns:///name")).toThrow(/expected host:port/);
    expect(() => resolverOf("dns://not a server/name:80")).toThrow(/invalid DNS server/);
    expect(() => resolverOf("unix://host/path")).toThrow(/unix:\/\/\/absolute\/path/);
    expect(() => resolverOf(["a:1", "dns:///b:2"])).toThrow(/dns: cannot be part of a list/);
  });
});

describe("backoff", () => {
  it("uses gRPC's numbers by default: 1 s, × 1.6, ± 20 %, up to 120 s", () => {
    const settings = checkBackoff(undefined);
    expect(settings).toEqual({ initialMs: 1000, multiplier: 1.6, jitter: 0.2, maxMs: 120_000 });
    const middle = new Backoff(settings, () => 0.5);
    const delays = Array.from({ length: 14 }, () => middle.next());
    expect(delays.slice(0, 4)).toEqual([1000, 1600, 2560, 4096]);
    expect(delays.at(-1)).toBe(120_000);
    middle.reset();
    expect(middle.next()).toBe(1000);
    expect(new Backoff(settings, () => 0).next()).toBe(800);
    expect(new Backoff(settings, () => 0.999999).next()).toBe(1200);
  });
});

const conn = (pending: number, weight = 1): Pickable & { name?: string } => ({ pending, weight, rrWeight: 0 });

describe("pickers", () => {
  it("round-robin is smooth and weighted: weights 1 and 2 give a b b, evenly", () => {
    const a = { ...conn(0, 1), name: "a" };
    const b = { ...conn(0, 2), name: "b" };
    const picks = Array.from({ length: 9 }, () => (pickRoundRobin([a, b]) as { name: string }).name).join("");
    expect(picks).toBe("babbabbab");
    const c = [conn(0), conn(0), conn(0)].map((x, i) => ({ ...x, name: String(i) }));
    expect(Array.from({ length: 6 }, () => (pickRoundRobin(c) as { name: string }).name).join("")).toBe("012012");
  });

  it("least-outstanding picks the less loaded of its two choices", () => {
    fc.assert(
      fc.property(
        fc.array(fc.nat(100), { minLength: 2, maxLength: 8 }),
        fc.array(fc.double({ min: 0, max: 0.999999, noNaN: true }), { minLength: 2, maxLength: 2 }),
        (pendings, draws) => {
          const list = pendings.map((p) => conn(p));
          let k = 0;
          const picked = pickLeastOutstanding(list, () => draws[k++ % 2] as number) as Pickable;
          const i = Math.floor((draws[0] as number) * list.length);
          let j = Math.floor((draws[1] as number) * (list.length - 1));
          if (j >= i) j++;
          expect(picked.pending).toBe(Math.min((list[i] as Pickable).pending, (list[j] as Pickable).pending));
        },
      ),
    );
  });
});

describe("rendezvous hashing", () => {
  const servers = ["10.0.0.1:7000", "10.0.0.2:7000", "10.0.0.3:7000"].map((s) => ({ s, h: hashString(s) }));
  const home = (key: string, among: typeof servers, weights: Record<string, number> = {}) => {
    const kh = hashString(key);
    let best = among[0] as (typeof servers)[number];
    let bestScore = -Infinity;
    for (const x of among) {
      const score = rendezvousScore(kh, x.h, weights[x.s] ?? 1);
      if (score > bestScore) [best, bestScore] = [x, score];
    }
    return best.s;
  };

  it("spreads keys evenly, and by weight", () => {
    const keys = Array.from({ length: 30_000 }, (_, i) => `key-${i}`);
    const count = (weights: Record<string, number> = {}) =>
      keys.reduce((m, k) => m.set(home(k, servers, weights), (m.get(home(k, servers, weights)) ?? 0) + 1), new Map<string, number>());
    for (const n of count().values()) expect(Math.abs(n / 10_000 - 1)).toBeLessThan(0.05);
    const weighted = count({ "10.0.0.3:7000": 2 });
    expect(Math.abs((weighted.get("10.0.0.3:7000") ?? 0) / 15_000 - 1)).toBeLessThan(0.05);
  });

  it("when a server leaves, only its keys move; when it comes back, they return", () => {
    fc.assert(
      fc.property(
        fc.array(fc.string({ minLength: 1, maxLength: 30 }), { minLength: 1, maxLength: 200 }),
        fc.integer({ min: 0, max: 2 }),
        (keys, gone) => {
          const left = servers.filter((_, i) => i !== gone);
          for (const k of keys) {
            const before = home(k, servers);
            const after = home(k, left);
            if (before !== servers[gone]?.s) expect(after).toBe(before);
            expect(home(k, servers)).toBe(before);
          }
        },
      ),
    );
  });
});

describe("retry budget", () => {
  it("starts full, takes one token per retry, gets `ratio` per call and `minPerSecond` over time", () => {
    let now = 0;
    const budget = new RetryBudget(checkRetry({ budget: { maxTokens: 3, ratio: 0.5, minPerSecond: 1 } }), () => now);
    expect([budget.withdraw(), budget.withdraw(), budget.withdraw(), budget.withdraw()]).toEqual([true, true, true, false]);
    budget.deposit();
    expect(budget.withdraw()).toBe(false);
    budget.deposit();
    expect(budget.withdraw()).toBe(true);
    now += 1000;
    expect(budget.withdraw()).toBe(true);
    expect(budget.withdraw()).toBe(false);
    now += 60_000;
    expect(budget.available).toBe(3);
  });
});

describe("idempotency marks", () => {
  it("generated definitions carry the .proto's idempotency_level, which the pool reads", () => {
    const level = Object.fromEntries(TallyServiceDefinition.service.methods.map((m) => [m.name, m.idempotency]));
    expect(level).toEqual({
      Get: MethodOptions_IdempotencyLevel.NO_SIDE_EFFECTS,
      Set: MethodOptions_IdempotencyLevel.IDEMPOTENT,
      Add: MethodOptions_IdempotencyLevel.IDEMPOTENCY_UNKNOWN,
      Watch: MethodOptions_IdempotencyLevel.NO_SIDE_EFFECTS,
    });
  });
});
