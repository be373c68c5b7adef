/**
 * The pool's parts on their own: target parsing, backoff delays, pickers
 * (objects over plain objects: no socket, no timer), rendezvous hashing
 * (property tests), the ejection policy, the retry budget and decision, and
 * the idempotency marks generated definitions carry.
 */
import fc from "fast-check";
import { MethodOptions_IdempotencyLevel } from "@bufbuild/protobuf/wkt";
import { describe, expect, it } from "vitest";
import { Code, RpcError } from "../src/errors.js";
import { Backoff, checkBackoff } from "../src/pool/backoff.js";
import { ejectionFor } from "../src/pool/ejection.js";
import { createPicker, pickLeastOutstanding, pickRoundRobin, type KeyServer, type Pickable, type ReadySet } from "../src/pool/pickers.js";
import type { AddressState } from "../src/pool/pool-events.js";
import { checkPoolOptions } from "../src/pool/pool-settings.js";
import { hashString, rendezvousScore } from "../src/pool/rendezvous.js";
import { checkRetry, newAttempts, RetryBudget } from "../src/pool/retry-budget.js";
import { countFailure, decideRetry } from "../src/pool/retry-policy.js";
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

/** A ready set of plain objects: servers with a state and connections. */
function readySet(servers: { name: string; state: AddressState; conns: (Pickable & { name?: string })[] }[]) {
  const used: number[] = [];
  const set: ReadySet<Pickable & { name?: string }> = {
    connections: servers.filter((s) => s.state !== "ejected").flatMap((s) => s.conns),
    servers: servers.map((s) => ({ hash: hashString(s.name), weight: 1 })),
    use(i): KeyServer<Pickable & { name?: string }> {
      used.push(i);
      const s = servers[i] as (typeof servers)[number];
      return { state: s.state, ready: (into) => (s.state === "ready" ? into.push(...s.conns) : 0) };
    },
  };
  return { set, used };
}

describe("picker objects", () => {
  const named = (name: string, pending = 0) => ({ ...conn(pending), name });

  it("key-hash: a key's calls go to its best server that is up, the least busy of its connections; keyless calls spread", () => {
    const servers = ["a", "b", "c"].map((name) => ({
      name,
      state: "ready" as AddressState,
      conns: [named(`${name}1`, 3), named(`${name}2`, 1)],
    }));
    const picker = createPicker<Pickable & { name?: string }>("key-hash", () => 0.5);
    const { set } = readySet(servers);
    const first = picker.pick(set, { key: "user-7", excluded: undefined });
    expect(first?.name?.[1]).toBe("2");
    const home = (first?.name ?? "")[0] as string;
    // Its server down: the key goes to its second choice, the same every time.
    (servers.find((s) => s.name === home) as (typeof servers)[number]).state = "transient_failure";
    const second = picker.pick(set, { key: "user-7", excluded: undefined })?.name?.[0];
    expect(second).not.toBe(home);
    expect(picker.pick(set, { key: "user-7", excluded: undefined })?.name?.[0]).toBe(second);
    // Its server still connecting: the call waits.
    (servers.find((s) => s.name === home) as (typeof servers)[number]).state = "connecting";
    expect(picker.pick(set, { key: "user-7", excluded: undefined })).toBeUndefined();
    // Without a key: least-outstanding over the ready connections.
    expect(picker.pick(set, { key: undefined, excluded: undefined })).toBeDefined();
  });

  it("least-outstanding with unequal weights: an idle pool gives each its weight's share; a busy one, the less loaded per weight", () => {
    let seed = 42;
    const random = () => {
      seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
      return seed / 2 ** 32;
    };
    const conns = [1, 2, 3].map((w) => ({ pending: 0, weight: w, rrWeight: 0, name: String(w) }));
    const { set } = readySet([{ name: "s", state: "ready", conns }]);
    const picker = createPicker<Pickable & { name?: string }>("least-outstanding", random);
    const counts = new Map<string, number>();
    for (let i = 0; i < 60_000; i++) {
      const name = picker.pick(set, { key: undefined, excluded: undefined })?.name as string;
      counts.set(name, (counts.get(name) ?? 0) + 1);
    }
    for (const c of conns) expect(Math.abs((counts.get(c.name) ?? 0) / (10_000 * c.weight) - 1)).toBeLessThan(0.03);
    // Busy: weight 3 with 9 in flight (3 per unit) loses to weight 1 with 2 (2 per unit).
    const busy = [
      { pending: 2, weight: 1, rrWeight: 0, name: "light" },
      { pending: 9, weight: 3, rrWeight: 0, name: "heavy" },
    ];
    const two = readySet([{ name: "s", state: "ready", conns: busy }]).set;
    for (let i = 0; i < 100; i++) expect(picker.pick(two, { key: undefined, excluded: undefined })?.name).toBe("light");
  });

  it("a call's excluded connections are never picked again", () => {
    for (const name of ["least-outstanding", "round-robin", "key-hash"] as const) {
      const servers = ["a", "b"].map((n) => ({ name: n, state: "ready" as AddressState, conns: [named(n)] }));
      const { set } = readySet(servers);
      const picker = createPicker<Pickable & { name?: string }>(name, Math.random);
      const excluded = new Set([servers[0]?.conns[0] as Pickable]);
      for (let i = 0; i < 20; i++) expect(picker.pick(set, { key: `k${i}`, excluded })?.name).toBe("b");
    }
  });
});

describe("ejection policy", () => {
  const settings = checkPoolOptions({ ejection: { consecutiveFailures: 3, baseMs: 100, maxMs: 250, maxPercent: 50 } }).ejection;
  const server = (failures: number, inARow = 0) => ({
    consecutiveFailures: failures,
    ejectionsInARow: inARow,
    ejections: 0,
    ejectedUntil: undefined,
    ejectTimer: undefined,
  });

  it("ejects after consecutiveFailures, for baseMs × the ejections in a row up to maxMs, never more than maxPercent", () => {
    expect(ejectionFor(settings, server(2), 0, 10)).toBeUndefined();
    expect(ejectionFor(settings, server(3), 0, 10)).toBe(100);
    expect(ejectionFor(settings, server(3, 1), 0, 10)).toBe(200);
    expect(ejectionFor(settings, server(3, 5), 0, 10)).toBe(250);
    expect(ejectionFor(settings, server(3), 4, 10)).toBe(100);
    expect(ejectionFor(settings, server(3), 5, 10)).toBeUndefined();
    expect(ejectionFor(undefined, server(99), 0, 10)).toBeUndefined();
  });
});

describe("retry decision", () => {
  const settings = checkRetry({ maxAttempts: 2, maxNeverRanRetries: 2, budget: { maxTokens: 1 } });
  const ask = (budget: RetryBudget, o: { idempotent?: boolean; code?: Code; neverRan?: boolean; failures?: number; deadline?: number }) => {
    const attempts = newAttempts();
    for (let i = 0; i < (o.failures ?? 1); i++) countFailure(attempts, new RpcError(o.code ?? Code.Unavailable, "x"), o.neverRan ?? false);
    return decideRetry(settings, budget, {
      idempotent: o.idempotent ?? true,
      code: o.code ?? Code.Unavailable,
      neverRan: o.neverRan ?? false,
      attempts,
      deadline: o.deadline,
      now: 1000,
    });
  };

  it("never ran: any method, within maxNeverRanRetries and the deadline, at no cost", () => {
    const budget = new RetryBudget(settings, () => 0);
    expect(ask(budget, { neverRan: true, idempotent: false, failures: 2 })).toBe("retry");
    expect(ask(budget, { neverRan: true, failures: 3 })).toBe("final");
    expect(ask(budget, { neverRan: true, deadline: 1000 })).toBe("final");
    expect(budget.available).toBe(1);
  });

  it("may have run: idempotent methods, retry.codes, maxAttempts, then the budget", () => {
    const budget = new RetryBudget(settings, () => 0);
    expect(ask(budget, { idempotent: false })).toBe("final");
    expect(ask(budget, { code: Code.Internal })).toBe("final");
    expect(ask(budget, { failures: 2 })).toBe("final");
    expect(ask(budget, {})).toBe("retry");
    expect(ask(budget, {})).toBe("budget");
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
