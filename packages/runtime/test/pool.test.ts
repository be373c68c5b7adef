/**
 * The pool in one process: targets, pickers, waiting for a ready
 * connection, retries (what may be sent again, the budget), connection
 * ageing, ejection, streams, interceptors and close. Servers in other
 * processes: pool-processes.test.ts.
 */
import type { PoolCallInfo } from "../src/pool/pool-events.js";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer as createNetServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import {
  Code,
  connect,
  createContextValues,
  createPool,
  neverRan,
  poolCallInfo,
  RpcError,
  type Interceptor,
  type PoolEvent,
  type PoolTransport,
  type Resolver,
  type ServerInterceptor,
} from "../src/index.js";
import { until } from "./support/reliability.js";
import { runCalls, startTally, tallyClient, type TallyServer } from "./support/tally.js";

const pools: PoolTransport[] = [];
const servers: TallyServer[] = [];
afterEach(async () => {
  for (const p of pools.splice(0)) p.close();
  await Promise.all(servers.splice(0).map((s) => s.server.close({ graceMs: 0 })));
});

function pool(...args: Parameters<typeof createPool>): PoolTransport {
  const p = createPool(...args);
  pools.push(p);
  return p;
}

async function tallies(...names: string[]): Promise<TallyServer[]> {
  const started = await Promise.all(names.map((n, i) => startTally(n, { host: `127.0.0.${i + 1}` })));
  servers.push(...started);
  return started;
}

/** Starts the pool and waits until every server it resolved has a connection up. */
async function allReady(p: PoolTransport): Promise<void> {
  await p.whenReady();
  await until(() => p.stats.addresses.length > 0 && p.stats.addresses.every((a) => a.state === "ready"), "every server ready");
}

/** A port nothing listens on (bound, then closed). */
async function deadPort(): Promise<number> {
  const s = createNetServer();
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", r));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

const failure = (p: Promise<unknown>): Promise<RpcError> =>
  p.then(
    () => {
      throw new Error("the call succeeded");
    },
    (e: unknown) => e as RpcError,
  );

describe("pool: targets and connect()", () => {
  it("connect({ host, port }) is still one connection; connect(target) is a pool that resolves once connected", async () => {
    const [a] = await tallies("a");
    const one = await connect({ host: "127.0.0.1", port: a!.port });
    expect(one.peer).toBe(a!.target);
    one.close();
    const p = await connect(a!.target);
    pools.push(p);
    expect(p.target).toBe(a!.target);
    expect(p.stats.addresses.map((s) => s.state)).toEqual(["ready"]);
    expect((await tallyClient(p).get({ key: "k" })).server).toBe("a");
  });

  it("connect(target) rejects with unavailable, naming the error, when nothing answers within connectTimeoutMs", async () => {
    const port = await deadPort();
    const e = await failure(connect(`127.0.0.1:${port}`, { connectTimeoutMs: 300, backoff: { initialMs: 20 } }));
    expect(e.code).toBe(Code.Unavailable);
    expect(e.rawMessage).toMatch(/ECONNREFUSED/);
  });

  it("accepts a list, a comma-separated string, unix:/// sockets and a Resolver", async () => {
    const dir = mkdtempSync(join(tmpdir(), "pool-unix-"));
    try {
      const [a, b] = await tallies("a", "b");
      const u = await startTally("u", { path: join(dir, "tally.sock") });
      servers.push(u);
      expect(u.target).toBe(`unix://${join(dir, "tally.sock")}`);
      const fromList = pool([a!.target, b!.target, u.target], { picker: "round-robin" });
      const counts = await runCalls(30, 3, (n) => tallyClient(fromList).get({ key: String(n) }));
      expect(counts.failures).toEqual([]);
      expect([...counts.perServer.keys()].sort()).toEqual(["a", "b", "u"]);
      const fromString = pool(`${a!.target},${u.target}`, { picker: "round-robin" });
      const c2 = await runCalls(10, 2, (n) => tallyClient(fromString).get({ key: String(n) }));
      expect([...c2.perServer.keys()].sort()).toEqual(["a", "u"]);
      let asked = 0;
      const resolver: Resolver = {
        name: "test-registry",
        resolve: () => {
          asked++;
          return [{ host: "127.0.0.2", port: b!.port }];
        },
      };
      const custom = pool(resolver);
      expect(custom.target).toBe("test-registry");
      expect((await tallyClient(custom).get({ key: "k" })).server).toBe("b");
      expect(asked).toBeGreaterThan(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("refuses bad targets and options with invalid_argument naming them", () => {
    const bad = (f: () => unknown) => {
      try {
        f();
      } catch (e) {
        expect((e as RpcError).code).toBe(Code.InvalidArgument);
        return (e as RpcError).rawMessage;
      }
      throw new Error("accepted");
    };
    expect(bad(() => createPool("nohost"))).toMatch(/invalid target "nohost": expected host:port/);
    expect(bad(() => createPool("a:99999"))).toMatch(/port "99999" is not 1 to 65535/);
    expect(bad(() => createPool([]))).toMatch(/an empty list/);
    expect(bad(() => createPool("srv:///_x._tcp.example:80"))).toMatch(/the port comes from the SRV records/);
    expect(bad(() => createPool("::1:80"))).toMatch(/in brackets/);
    expect(bad(() => createPool("a:1", { picker: "random" as never }))).toMatch(/invalid option picker/);
    expect(bad(() => createPool("a:1", { connectionsPerAddress: 0 }))).toMatch(/invalid option connectionsPerAddress/);
    expect(bad(() => createPool("a:1", { backoff: { multiplier: 0.5 } }))).toMatch(/invalid option backoff.multiplier/);
    expect(bad(() => createPool("a:1", { retry: { maxAttempts: 0 } }))).toMatch(/invalid option retry.maxAttempts/);
    expect(bad(() => createPool("a:1", { retry: { maxNeverRanRetries: -1 } }))).toMatch(/invalid option retry.maxNeverRanRetries/);
    expect(bad(() => createPool("a:1", { idleTimeoutMs: 0 }))).toMatch(/invalid option idleTimeoutMs/);
    expect(bad(() => createPool("a:1", { ejection: { callErrorCodes: [99 as Code] } }))).toMatch(/invalid option ejection.callErrorCodes/);
    expect(bad(() => createPool("a:1", { retry: { codes: [99 as Code] } }))).toMatch(/invalid option retry.codes/);
    expect(bad(() => createPool("a:1", { maxConnectionAgeMs: -1 }))).toMatch(/invalid option maxConnectionAgeMs/);
    expect(bad(() => createPool({ name: "x" } as never))).toMatch(/a resolver needs/);
  });

  it("a resolver's bad answer fails calls with its error, not a crash", async () => {
    const p = pool({ name: "broken", resolve: () => [{ host: "127.0.0.1", port: 0 }] }, { waitForReadyMs: 200 });
    const e = await failure(tallyClient(p).get({ key: "k" }));
    expect(e.code).toBe(Code.Unavailable);
    expect(e.rawMessage).toMatch(/bad endpoint at index 0: port 0/);
    expect(p.stats.resolveFailures).toBeGreaterThan(0);
  });
});

describe("pool: pickers", () => {
  it("round-robin takes each server in turn", async () => {
    const s = await tallies("a", "b", "c");
    const p = pool(
      s.map((x) => x.target),
      { picker: "round-robin" },
    );
    await allReady(p);
    const counts = await runCalls(300, 1, (n) => tallyClient(p).get({ key: String(n) }));
    expect(Object.fromEntries(counts.perServer)).toEqual({ a: 100, b: 100, c: 100 });
  });

  it("least-outstanding sends fewer calls to a slow server", async () => {
    const slowly: ServerInterceptor = (next) => async (req) => {
      await new Promise((r) => setTimeout(r, 10));
      return next(req);
    };
    const fast = await startTally("fast", { host: "127.0.0.1" });
    const slow = await startTally("slow", { host: "127.0.0.2" }, { interceptors: [slowly] });
    servers.push(fast, slow);
    const p = pool([fast.target, slow.target]);
    await allReady(p);
    const counts = await runCalls(400, 8, (n) => tallyClient(p).get({ key: String(n) }));
    // "slow" holds each call 10 ms: its calls stay outstanding longer, so it is picked less.
    expect(counts.failures).toEqual([]);
    expect(counts.perServer.get("fast") ?? 0).toBeGreaterThan(2 * (counts.perServer.get("slow") ?? 0));
  });

  it("key-hash sends one key to one server; without a key it spreads", async () => {
    const s = await tallies("a", "b", "c");
    const p = pool(
      s.map((x) => x.target),
      { picker: "key-hash" },
    );
    await allReady(p);
    const client = tallyClient(p);
    const home = new Map<string, string>();
    for (let round = 0; round < 3; round++) {
      for (let k = 0; k < 60; k++) {
        const key = `user-${k}`;
        const { server } = await client.get({ key }, { key });
        if (round === 0) home.set(key, server);
        else expect(server).toBe(home.get(key));
      }
    }
    expect(new Set(home.values()).size).toBe(3);
    const unkeyed = await runCalls(60, 4, (n) => client.get({ key: String(n) }));
    expect(unkeyed.perServer.size).toBe(3);
  });
});

describe("pool: waiting for a ready connection", () => {
  it("a call waits for a server that is not up yet, within its deadline", async () => {
    const port = await deadPort();
    const p = pool(`127.0.0.1:${port}`, { backoff: { initialMs: 20, maxMs: 50 } });
    const call = tallyClient(p).get({ key: "k" }, { timeoutMs: 10_000 });
    await until(() => p.stats.addresses[0]?.connectFailures !== undefined && p.stats.addresses[0].connectFailures > 0, "a failed attempt");
    const late = await startTally("late", { host: "127.0.0.1", port });
    servers.push(late);
    expect((await call).server).toBe("late");
    expect(p.stats.waits).toBeGreaterThan(0);
  });

  it("fails unavailable at its deadline (or waitForReadyMs), naming the last error", async () => {
    const port = await deadPort();
    const p = pool(`127.0.0.1:${port}`, { backoff: { initialMs: 20, maxMs: 50 }, waitForReadyMs: 10_000 });
    const e = await failure(tallyClient(p).get({ key: "k" }, { timeoutMs: 300 }));
    expect(e.code).toBe(Code.Unavailable);
    expect(e.rawMessage).toMatch(/no connection ready after waiting \d+ ms \(last error: .*ECONNREFUSED/);
    const p2 = pool(`127.0.0.1:${port}`, { backoff: { initialMs: 20 }, waitForReadyMs: 200 });
    const e2 = await failure(tallyClient(p2).get({ key: "k" }));
    expect(e2.code).toBe(Code.Unavailable);
    expect(p2.stats.waitTimeouts).toBe(1);
    // No attempt was made: neither call ran anywhere.
    expect([neverRan(e), neverRan(e2)]).toEqual([true, true]);
  });

  it("a call that fails while waiting to be sent again never ran only if none of its attempts may have", async () => {
    const [a, b] = await tallies("a", "b");
    // "a" runs a Get, then fails it going down: the retry finds no connection.
    const p = pool([a!.target], { waitForReadyMs: 200, backoff: { initialMs: 20, maxMs: 50 } });
    await allReady(p);
    const ran = failure(tallyClient(p).get({ key: "k", delayMs: 2000 }));
    await until(() => a!.server.connections === 1, "a's connection");
    await new Promise((r) => setTimeout(r, 50));
    await a!.server.close({ graceMs: 0 });
    const e = await ran;
    expect(e.rawMessage).toMatch(/no connection ready after waiting/);
    expect(p.stats.retries).toBe(1);
    expect(neverRan(e)).toBe(false);

    // "b" is draining: it refuses an Add, whose retry then finds no connection.
    const q = pool([b!.target], { waitForReadyMs: 200, backoff: { initialMs: 20, maxMs: 50 } });
    await allReady(q);
    const holder = await connect({ host: "127.0.0.2", port: b!.port });
    const holding = tallyClient(holder).add({ key: "hold", delta: 1, delayMs: 600 });
    await until(() => b!.server.connections === 2, "b's connections");
    await new Promise((r) => setTimeout(r, 50));
    const closing = b!.server.close({ graceMs: 10_000 });
    const refused = await failure(tallyClient(q).add({ key: "k", delta: 1 }));
    expect(refused.rawMessage).toMatch(/no connection ready after waiting .*shutting down/);
    expect(neverRan(refused)).toBe(true);
    expect((await holding).server).toBe("b");
    holder.close();
    await closing;
  });

  it("a waiting call is cancelled by its signal", async () => {
    const port = await deadPort();
    const p = pool(`127.0.0.1:${port}`, { backoff: { initialMs: 20 } });
    const ac = new AbortController();
    const pending = failure(tallyClient(p).get({ key: "k" }, { signal: ac.signal }));
    setTimeout(() => ac.abort(), 50);
    expect((await pending).code).toBe(Code.Cancelled);
  });
});

describe("pool: retries", () => {
  it("a draining server's refusals are sent again elsewhere, even for a method that is not idempotent", async () => {
    const [a, b] = await tallies("a", "b");
    const events: PoolEvent[] = [];
    const p = pool([a!.target, b!.target], { picker: "round-robin", onEvent: (e) => events.push(e) });
    await allReady(p);
    const client = tallyClient(p);
    // A long call keeps "a" draining (not closed) while calls keep coming.
    const holding = client.add({ key: "hold", delta: 1, delayMs: 500 });
    await until(() => a!.server.connections === 1, "a's connection");
    await new Promise((r) => setTimeout(r, 20));
    const closing = a!.server.close({ graceMs: 10_000 });
    const counts = await runCalls(40, 4, (n) => client.add({ key: `k${n}`, delta: 1 }));
    expect(counts.failures).toEqual([]);
    expect(counts.perServer.get("b")).toBe(40);
    expect((await holding).server).toBe("a");
    await closing;
    const retries = events.filter((e) => e.type === "retry");
    expect(retries.length).toBeGreaterThan(0);
    expect(retries.every((e) => e.type === "retry" && e.neverRan && e.address === a!.target)).toBe(true);
    expect(events.some((e) => e.type === "connection_retiring" && e.reason === "server_draining")).toBe(true);
  });

  it("refusals by draining servers in a row count against maxNeverRanRetries, not maxAttempts", async () => {
    const [a, b, c, d] = await tallies("a", "b", "c", "d");
    const draining = [a!, b!, c!];
    // key-hash with these weights ranks a, b and c (in some order) above d for any key, but for odds of about 1e-8.
    const endpoints = [
      ...draining.map((s) => ({ host: s.target.split(":")[0]!, port: s.port, weight: 1e6 })),
      { host: "127.0.0.4", port: d!.port, weight: 1 },
    ];
    const resolver: Resolver = { name: "ranked", static: true, resolve: () => endpoints };
    const p = pool(resolver, { picker: "key-hash", retry: { maxAttempts: 1 } });
    const strict = pool(resolver, { picker: "key-hash", retry: { maxAttempts: 1, maxNeverRanRetries: 1 } });
    await Promise.all([allReady(p), allReady(strict)]);
    // Each draining server holds a call from a client of its own, so it stays open and refuses new calls
    // on the pools' idle connections, which have heard nothing yet.
    const holders = await Promise.all(draining.map((s) => connect({ host: s.target.split(":")[0]!, port: s.port })));
    const holds = holders.map((h) => tallyClient(h).add({ key: "hold", delta: 1, delayMs: 800 }));
    await until(() => draining.every((s) => s.server.connections === 3), "the holders' connections");
    await new Promise((r) => setTimeout(r, 50));
    const closing = draining.map((s) => s.server.close({ graceMs: 10_000 }));

    // Not idempotent, maxAttempts 1: refused three times (never ran), then answered by d.
    const values = createContextValues();
    const added = await tallyClient(p).add({ key: "x", delta: 1 }, { key: "x", contextValues: values });
    expect(added.server).toBe("d");
    const attempts = (values.get(poolCallInfo) as PoolCallInfo).attempts;
    expect(attempts.map((x) => x.address)).toHaveLength(4);
    expect(attempts.slice(0, 3).every((x) => x.error?.code === Code.Unavailable)).toBe(true);
    expect(attempts[3]).toEqual({ address: `127.0.0.4:${d!.port}` });

    // maxNeverRanRetries 1: the second refusal is the call's error, and it says the call never ran.
    const strictValues = createContextValues();
    const e = await failure(tallyClient(strict).add({ key: "x", delta: 1 }, { key: "x", contextValues: strictValues }));
    expect(e.code).toBe(Code.Unavailable);
    expect(e.rawMessage).toMatch(/shutting down/);
    expect(neverRan(e)).toBe(true);
    expect((strictValues.get(poolCallInfo) as PoolCallInfo).attempts).toHaveLength(2);

    expect((await Promise.all(holds)).map((t) => t.server)).toEqual(["a", "b", "c"]);
    for (const h of holders) h.close();
    await Promise.all(closing);
  });

  it("an idempotent call that may have run is retried on unavailable; one that is not idempotent is not", async () => {
    const [a, b] = await tallies("a", "b");
    const p = pool([a!.target, b!.target], { picker: "key-hash", backoff: { initialMs: 50 } });
    await allReady(p);
    const client = tallyClient(p);
    // A key whose home is "a": both calls run there.
    let key = "";
    for (let i = 0; key === ""; i++) if ((await client.get({ key: `k${i}` }, { key: `k${i}` })).server === "a") key = `k${i}`;
    const get = client.get({ key, delayMs: 300 }, { key });
    const add = failure(client.add({ key, delta: 1, delayMs: 300 }, { key }));
    await until(() => a!.server.connections === 1, "a's connection");
    await new Promise((r) => setTimeout(r, 50));
    await a!.server.close({ graceMs: 0 });
    // Both ran on "a", which failed them with `unavailable`: the Get (no side effects) is sent again to "b", the Add is not.
    expect((await get).server).toBe("b");
    const e = await add;
    expect(e.code).toBe(Code.Unavailable);
    expect(e.rawMessage).toMatch(/did not finish within the grace period/);
    expect(p.stats.retries).toBe(1);
  });

  it("a call that is not idempotent and may have run fails with the server's unavailable, not retried", async () => {
    const [a] = await tallies("a");
    const p = pool([a!.target]);
    const client = tallyClient(p);
    await p.whenReady();
    const add = failure(client.add({ key: "g", delta: 1, delayMs: 500 }));
    await until(() => a!.server.connections === 1, "connection");
    await new Promise((r) => setTimeout(r, 50));
    await a!.server.close({ graceMs: 0 });
    const e = await add;
    expect(e.code).toBe(Code.Unavailable);
    expect(p.stats.retries).toBe(0);
  });

  it("maxAttempts bounds the attempts that may have run", async () => {
    // Every server runs the call and fails it with `unavailable`: each attempt may have run.
    const failing: ServerInterceptor = () => async () => {
      throw new RpcError(Code.Unavailable, "overloaded");
    };
    const started = await Promise.all(
      ["a", "b", "c", "d"].map((n, i) => startTally(n, { host: `127.0.0.${i + 1}` }, { interceptors: [failing] })),
    );
    servers.push(...started);
    const targets = started.map((s) => s.target);
    for (const maxAttempts of [1, 2, 3]) {
      const p = pool(targets, { retry: { maxAttempts } });
      await allReady(p);
      const values = createContextValues();
      const e = await failure(tallyClient(p).get({ key: "k" }, { contextValues: values }));
      expect(e.rawMessage).toBe("overloaded");
      const attempts = (values.get(poolCallInfo) as PoolCallInfo).attempts;
      expect(attempts).toHaveLength(maxAttempts);
      // Each retry went to a server not tried yet.
      expect(new Set(attempts.map((x) => x.address)).size).toBe(maxAttempts);
      expect(p.stats.retries).toBe(maxAttempts - 1);
    }
  });

  it("retries stop at maxAttempts and when the budget is spent", async () => {
    const [a, b, c] = await tallies("a", "b", "c");
    // Every server shuts down under the calls: each attempt fails `unavailable` after running.
    const events: PoolEvent[] = [];
    const p = pool([a!.target, b!.target, c!.target], {
      waitForReadyMs: 200,
      retry: { maxAttempts: 2, budget: { maxTokens: 1, ratio: 0, minPerSecond: 0 } },
      onEvent: (e) => events.push(e),
    });
    await allReady(p);
    const client = tallyClient(p);
    const calls = [0, 1, 2, 3, 4, 5].map((n) => failure(client.get({ key: String(n), delayMs: 400 })));
    await until(() => servers.every((s) => s.server.connections === 1), "connections");
    await new Promise((r) => setTimeout(r, 50));
    await Promise.all([a, b, c].map((s) => s!.server.close({ graceMs: 0 })));
    const errors = await Promise.all(calls);
    expect(errors.every((e) => e.code === Code.Unavailable)).toBe(true);
    // One token: one retry of a call that may have run; the others were denied. (That retry may
    // meet a server that has stopped reading: an attempt that never ran, sent again at no cost.)
    const mayHaveRun = events.filter((e) => e.type === "retry" && !e.neverRan);
    expect(mayHaveRun).toHaveLength(1);
    expect(p.stats.retriesDenied).toBe(5);
  });
});

describe("pool: connections age, drain and are ejected", () => {
  it("maxConnectionAgeMs replaces connections; calls in flight finish on the connection they started on", async () => {
    const [a] = await tallies("a");
    const events: PoolEvent[] = [];
    const p = pool([a!.target], { maxConnectionAgeMs: 100, maxConnectionAgeJitter: 0, onEvent: (e) => events.push(e) });
    const client = tallyClient(p);
    await p.whenReady();
    const long = client.get({ key: "long", delayMs: 600 });
    const counts = await runCalls(200, 4, async (n) => {
      if (n % 20 === 0) await new Promise((r) => setTimeout(r, 10));
      return client.get({ key: String(n) });
    });
    expect(counts.failures).toEqual([]);
    expect((await long).server).toBe("a");
    await until(() => (p.stats.addresses[0]?.connectionsUp ?? 0) >= 3, "several generations of connections");
    const retired = events.filter((e) => e.type === "connection_retiring");
    expect(retired.length).toBeGreaterThanOrEqual(2);
    expect(retired.every((e) => e.type === "connection_retiring" && e.reason === "max_age")).toBe(true);
    const downs = events.filter((e) => e.type === "connection_down");
    expect(downs.every((e) => e.type === "connection_down" && e.planned)).toBe(true);
    expect(p.stats.retries).toBe(0);
  });

  it("with ejection.callErrorCodes, a server that fails every call is ejected; by default it keeps its share", async () => {
    const failing: ServerInterceptor = () => async () => {
      throw new RpcError(Code.Unavailable, "lost my database");
    };
    const good = await Promise.all(["a", "b"].map((n, i) => startTally(n, { host: `127.0.0.${i + 1}` })));
    const bad = await startTally("bad", { host: "127.0.0.3" }, { interceptors: [failing] });
    servers.push(...good, bad);
    const targets = [...good.map((s) => s.target), bad.target];
    const picksOfBad = (p: PoolTransport) => p.stats.addresses.find((x) => x.address === bad.target)?.picks ?? 0;

    // By default call errors are the application's: the failing server stays in rotation.
    const plain = pool(targets);
    await allReady(plain);
    await runCalls(200, 4, (n) => tallyClient(plain).get({ key: String(n) }));
    expect(plain.stats.addresses.map((x) => x.ejections)).toEqual([0, 0, 0]);
    expect(picksOfBad(plain)).toBeGreaterThan(20);

    const events: PoolEvent[] = [];
    const p = pool(targets, {
      ejection: { callErrorCodes: [Code.Unavailable, Code.Internal], consecutiveFailures: 3, baseMs: 60_000 },
      onEvent: (e) => events.push(e),
    });
    await allReady(p);
    const counts = await runCalls(200, 4, (n) => tallyClient(p).get({ key: String(n) }));
    // Gets have no side effects: each failed attempt went elsewhere.
    expect(counts.failures).toEqual([]);
    expect(events.filter((e) => e.type === "ejected").map((e) => e.type === "ejected" && e.address)).toEqual([bad.target]);
    // Its failures in a row, and at most the calls already on their way to it.
    expect(picksOfBad(p)).toBeLessThanOrEqual(3 + 4);
  });

  it("ejects a server that keeps failing, never more than maxPercent, and lets it back in", async () => {
    const [good] = await tallies("good");
    const port = await deadPort();
    const events: PoolEvent[] = [];
    const p = pool([good!.target, `127.0.0.1:${port}`], {
      backoff: { initialMs: 10, maxMs: 20 },
      ejection: { consecutiveFailures: 3, baseMs: 300, maxPercent: 50 },
      onEvent: (e) => events.push(e),
    });
    await p.whenReady();
    await until(() => events.some((e) => e.type === "ejected"), "an ejection");
    expect(p.stats.addresses.find((s) => s.address === `127.0.0.1:${port}`)?.state).toBe("ejected");
    const counts = await runCalls(20, 2, (n) => tallyClient(p).get({ key: String(n) }));
    expect(Object.fromEntries(counts.perServer)).toEqual({ good: 20 });
    await until(() => events.some((e) => e.type === "readmitted"), "readmission");
    // The good server is never ejected: that would be 100 % of the servers.
    expect(events.filter((e) => e.type === "ejected").every((e) => e.type === "ejected" && e.address !== good!.target)).toBe(true);
  });
});

describe("pool: idle", () => {
  it("after idleTimeoutMs without calls it closes its connections; the next call connects again", async () => {
    const [a] = await tallies("a");
    const events: PoolEvent[] = [];
    const p = pool([a!.target], { idleTimeoutMs: 100, onEvent: (e) => events.push(e) });
    const client = tallyClient(p);
    expect((await client.get({ key: "k" })).server).toBe("a");
    expect(a!.server.connections).toBe(1);
    await until(() => events.some((e) => e.type === "idle"), "the pool going idle");
    await until(() => a!.server.connections === 0, "its connection closed");
    expect(p.stats.addresses.map((x) => x.state)).toEqual(["idle"]);
    expect(events.some((e) => e.type === "connection_retiring" && e.reason === "idle")).toBe(true);
    // The next call starts it again.
    expect((await client.add({ key: "k", delta: 1 })).server).toBe("a");
    expect(a!.server.connections).toBe(1);
    expect(events.filter((e) => e.type === "connection_up")).toHaveLength(2);
  });

  it("does not go idle while a call runs, a stream is open or a call waits for a connection", async () => {
    const [a] = await tallies("a");
    const events: PoolEvent[] = [];
    const p = pool([a!.target], { idleTimeoutMs: 50, onEvent: (e) => events.push(e) });
    const client = tallyClient(p);
    // One call and one stream, each far longer than twice idleTimeoutMs.
    const slow = client.get({ key: "k", delayMs: 400 });
    const ticks: number[] = [];
    for await (const t of client.watch({ key: "k", count: 5, intervalMs: 80 })) ticks.push(t.value);
    expect((await slow).server).toBe("a");
    expect(ticks).toHaveLength(5);
    expect(events.filter((e) => e.type === "idle")).toEqual([]);
    await until(() => events.some((e) => e.type === "idle"), "idle once they are done");
  });

  it("resolves nothing while idle", async () => {
    const [a] = await tallies("a");
    let asked = 0;
    const resolver: Resolver = {
      name: "counting",
      resolve: () => {
        asked++;
        return [{ host: "127.0.0.1", port: a!.port }];
      },
    };
    const events: PoolEvent[] = [];
    const p = pool(resolver, { idleTimeoutMs: 100, resolveIntervalMs: 10, onEvent: (e) => events.push(e) });
    await tallyClient(p).get({ key: "k" });
    await until(() => events.some((e) => e.type === "idle"), "the pool going idle");
    const before = asked;
    await new Promise((r) => setTimeout(r, 200));
    expect(asked).toBe(before);
    expect((await tallyClient(p).get({ key: "k" })).server).toBe("a");
    expect(asked).toBeGreaterThan(before);
  });
});

describe("pool: streams, interceptors, close", () => {
  it("a stream is retried before its first message (a draining server), never after", async () => {
    const [a, b] = await tallies("a", "b");
    const p = pool([a!.target, b!.target], { picker: "round-robin" });
    await allReady(p);
    const client = tallyClient(p);
    // A stream on each server, started before "a" drains: "a"'s is cut after its first message.
    const seen: string[][] = [[], []];
    const reading = [0, 1].map(async (i) => {
      try {
        for await (const t of client.watch({ key: "w", count: 5, intervalMs: 100 })) seen[i]!.push(t.server);
        return "done";
      } catch (e) {
        return (e as RpcError).code;
      }
    });
    await until(() => seen[0]!.length > 0 && seen[1]!.length > 0, "both streams' first messages");
    const closing = a!.server.close({ graceMs: 50 });
    // New streams while "a" drains: refused there before any message, so sent to "b".
    const late: string[] = [];
    for (let i = 0; i < 4; i++) for await (const t of client.watch({ key: "x", count: 1 })) late.push(t.server);
    expect(late).toEqual(["b", "b", "b", "b"]);
    const outcomes = await Promise.all(reading);
    await closing;
    const onA = seen.findIndex((s) => s[0] === "a");
    // The stream on "a" failed after its first message and was not retried; the one on "b" finished.
    expect(outcomes[onA]).toBe(Code.Unavailable);
    expect(seen[onA]!.every((s) => s === "a")).toBe(true);
    expect(outcomes[1 - onA]).toBe("done");
  });

  it("interceptors see each call's attempts through poolCallInfo", async () => {
    const [a, b] = await tallies("a", "b");
    const seen: PoolCallInfo[] = [];
    const watch: Interceptor = (next) => async (req) => {
      try {
        return await next(req);
      } finally {
        const info = req.contextValues.get(poolCallInfo);
        if (info !== undefined) seen.push(info);
      }
    };
    const p = pool([a!.target, b!.target], { picker: "round-robin", interceptors: [watch] });
    await allReady(p);
    await tallyClient(p).get({ key: "1" });
    await tallyClient(p).get({ key: "2" });
    expect(seen.map((s) => s.attempts.map((x) => x.address))).toEqual(expect.arrayContaining([[a!.target], [b!.target]]));
    // Without interceptors, a call's own contextValues receive it too.
    const values = createContextValues();
    await tallyClient(p).get({ key: "3" }, { contextValues: values });
    expect(values.get(poolCallInfo)?.attempts.length).toBe(1);
  });

  it("close(): calls in flight and waiting fail cancelled, later calls unavailable", async () => {
    const [a] = await tallies("a");
    const port = await deadPort();
    const p = pool([a!.target]);
    const waitingPool = pool(`127.0.0.1:${port}`, { backoff: { initialMs: 20 } });
    await p.whenReady();
    const running = failure(tallyClient(p).get({ key: "k", delayMs: 5000 }));
    const waiting = failure(tallyClient(waitingPool).get({ key: "k" }));
    await until(() => a!.server.connections === 1 && waitingPool.stats.waits === 1, "a call running and one waiting");
    await new Promise((r) => setTimeout(r, 20));
    p.close();
    waitingPool.close();
    const [runningError, waitingError] = [await running, await waiting];
    expect([runningError.code, waitingError.code]).toEqual([Code.Cancelled, Code.Cancelled]);
    // The running call reached its server; the waiting one and those after close() never left.
    expect([neverRan(runningError), neverRan(waitingError)]).toEqual([false, true]);
    const later = await failure(tallyClient(p).get({ key: "k" }));
    expect(later.code).toBe(Code.Unavailable);
    expect(neverRan(later)).toBe(true);
    expect((await p.closed).code).toBe(Code.Cancelled);
  });
});
