/**
 * The pool under servers that drain, shut down and come back, and
 * connections reset by the proxy in front of them, in random orders
 * (seeded), with calls in flight all the time. Whatever the order:
 * - a call of a method that is not idempotent runs at most once;
 * - a server stream (Watch) that ends normally has every message;
 * - a call that fails marked `neverRan` ran nowhere;
 * - one that succeeded ran exactly once (not idempotent) or at least once;
 * - every call settles.
 * Each call carries a unique key; the servers record every handler entry.
 * Once with the pool's retries, once without (every failure then reaches
 * the caller with its connection's verdict). CHAOS_SEEDS=1,2,… replays
 * other orders.
 */
import { createServer as createNetServer, connect as netConnect, type Server as NetServer, type Socket } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import { afterEach, describe, expect, it } from "vitest";
import type { TallyServiceHandlers } from "@protosocket/gen/cluster/v1/tally_protosocket.js";
import { createPool, createServer, neverRan, type PoolTransport, type RpcError, type Server } from "../src/index.js";
import { TallyServiceDefinition, tallyClient } from "./support/tally.js";

/** A small seeded PRNG (mulberry32), so a failing order can be replayed. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** One server slot: restarted on the same port after each shutdown; every handler entry is recorded. */
class ChaosServer {
  server: Server | undefined;
  port = 0;
  constructor(
    readonly name: string,
    readonly host: string,
    private readonly entered: Map<string, number>,
  ) {}

  async start(): Promise<void> {
    const entered = this.entered;
    const name = this.name;
    const record = (key: string) => entered.set(key, (entered.get(key) ?? 0) + 1);
    const pause = (ms: number, signal: AbortSignal) => (ms > 0 ? sleep(ms, undefined, { signal }) : Promise.resolve());
    const handlers: TallyServiceHandlers = {
      async get(req, ctx) {
        record(req.key);
        await pause(req.delayMs, ctx.signal);
        return { key: req.key, value: 0, server: name };
      },
      async set(req) {
        return { key: req.key, value: req.value, server: name };
      },
      async add(req, ctx) {
        record(req.key);
        await pause(req.delayMs, ctx.signal);
        return { key: req.key, value: req.delta, server: name };
      },
      async *watch(req, ctx) {
        record(req.key);
        for (let i = 0; i < req.count && !ctx.signal.aborted; i++) {
          if (i > 0) await pause(req.intervalMs, ctx.signal);
          yield { key: req.key, value: i, server: name };
        }
      },
    };
    const server = createServer();
    server.register(TallyServiceDefinition, handlers);
    const address = await server.listen({ host: this.host, port: this.port });
    this.port = address.port;
    this.server = server;
  }

  async stop(graceMs: number): Promise<void> {
    const server = this.server;
    this.server = undefined;
    await server?.close({ graceMs });
  }
}

/**
 * A TCP proxy in front of one server, as an L4 proxy would be: the pool
 * connects to it, and `cut()` resets connections in the middle of their
 * calls (the client sees a reset; the server, its client gone).
 */
class CuttingProxy {
  private readonly listener: NetServer;
  private readonly pairs = new Set<[Socket, Socket]>();
  port = 0;

  constructor(
    readonly host: string,
    backend: () => number,
  ) {
    this.listener = createNetServer((client) => {
      const upstream = netConnect({ host, port: backend() });
      const pair: [Socket, Socket] = [client, upstream];
      this.pairs.add(pair);
      const drop = () => {
        this.pairs.delete(pair);
        client.destroy();
        upstream.destroy();
      };
      client.on("error", drop).on("close", drop);
      upstream.on("error", drop).on("close", drop);
      client.pipe(upstream);
      upstream.pipe(client);
    });
  }

  async start(): Promise<void> {
    await new Promise<void>((resolve) => this.listener.listen(0, this.host, resolve));
    this.port = (this.listener.address() as { port: number }).port;
  }

  /** Resets up to `count` connections chosen by `random`; returns how many. */
  cut(count: number, random: () => number): number {
    const pairs = [...this.pairs];
    let cut = 0;
    for (; cut < count && pairs.length > 0; cut++) {
      const [pair] = pairs.splice(Math.floor(random() * pairs.length), 1);
      if (pair === undefined) break;
      this.pairs.delete(pair);
      pair[0].resetAndDestroy();
      pair[1].resetAndDestroy();
    }
    return cut;
  }

  close(): Promise<void> {
    for (const [a, b] of this.pairs) {
      a.destroy();
      b.destroy();
    }
    this.pairs.clear();
    return new Promise((resolve) => this.listener.close(() => resolve()));
  }
}

const pools: PoolTransport[] = [];
const proxies: CuttingProxy[] = [];
const slots: ChaosServer[] = [];
afterEach(async () => {
  for (const p of pools.splice(0)) p.close();
  await Promise.all(proxies.splice(0).map((x) => x.close()));
  await Promise.all(slots.splice(0).map((s) => s.stop(0)));
});

interface Outcome {
  key: string;
  idempotent: boolean;
  ok: boolean;
  error?: RpcError;
}

async function runChaos(
  seed: number,
  retries: boolean,
  subsets: boolean,
): Promise<{ outcomes: Outcome[]; entered: Map<string, number>; actions: string[]; truncated: string[] }> {
  const random = prng(seed);
  const entered = new Map<string, number>();
  const servers = ["a", "b", "c"].map((n, i) => new ChaosServer(n, `127.0.0.${i + 1}`, entered));
  slots.push(...servers);
  await Promise.all(servers.map((s) => s.start()));
  const fronts = servers.map((s) => new CuttingProxy(s.host, () => s.port));
  proxies.push(...fronts);
  await Promise.all(fronts.map((f) => f.start()));
  const p = createPool(
    fronts.map((f) => `${f.host}:${f.port}`),
    {
      connectionsPerAddress: 2,
      backoff: { initialMs: 10, maxMs: 50 },
      waitForReadyMs: 1_000,
      ejection: false,
      // Subsets of 2 of the 3 (ejection is off, so a member that is down is not replaced: calls wait for one).
      ...(subsets ? { subset: { size: 2, minServers: 0, clientId: `chaos-${seed}` } } : {}),
      // Without retries every failure reaches the caller, with the connection's own verdict on whether it ran.
      ...(retries ? {} : { retry: { maxAttempts: 1, maxNeverRanRetries: 0 } }),
    },
  );
  pools.push(p);
  await p.whenReady();
  const client = tallyClient(p);

  const outcomes: Outcome[] = [];
  const actions: string[] = [];
  const restarts: Promise<void>[] = [];
  const truncated: string[] = [];
  let running = true;
  let n = 0;
  const loops = Array.from({ length: 24 }, async (_, loop) => {
    while (running) {
      const i = n++;
      // Gets and Watch streams (no side effects: retried before their first message) and Adds (not idempotent).
      const idempotent = i % 4 === 3 || i % 8 === 5;
      const key = `${seed}-${loop}-${i}`;
      const delayMs = Math.floor(random() * 15);
      try {
        if (i % 8 === 5) {
          let got = 0;
          for await (const _ of client.watch({ key, count: 3, intervalMs: delayMs }, { timeoutMs: 3_000 })) got++;
          if (got !== 3) truncated.push(`${key}: the stream ended normally after ${got} of 3 messages`);
        } else if (idempotent) await client.get({ key, delayMs }, { timeoutMs: 3_000 });
        else await client.add({ key, delta: 1, delayMs }, { timeoutMs: 3_000 });
        outcomes.push({ key, idempotent, ok: true });
      } catch (e) {
        outcomes.push({ key, idempotent, ok: false, error: e as RpcError });
        await sleep(1);
      }
    }
  });

  // Random shutdowns and restarts (draining with a grace period long or short, or at once; at most
  // two down at a time), and connections reset in the middle of their calls.
  const chaos = (async () => {
    for (let step = 0; step < 16; step++) {
      await sleep(40 + Math.floor(random() * 100));
      if (random() < 0.35) {
        const front = fronts[Math.floor(random() * fronts.length)] as CuttingProxy;
        const cut = front.cut(1 + Math.floor(random() * 3), random);
        actions.push(`${cut} connection(s) to ${front.host} reset`);
        continue;
      }
      const up = servers.filter((s) => s.server !== undefined);
      if (up.length <= 1) continue;
      const victim = up[Math.floor(random() * up.length)] as ChaosServer;
      const graceMs = [0, 5, 50, 500][Math.floor(random() * 4)] as number;
      const downMs = Math.floor(random() * 150);
      actions.push(`${victim.name} down (grace ${graceMs} ms) for ${downMs} ms`);
      restarts.push(
        victim
          .stop(graceMs)
          .then(() => sleep(downMs))
          .then(() => victim.start()),
      );
    }
    await sleep(300);
  })();
  await chaos;
  running = false;
  await Promise.all(loops);
  // Every server is back (or on its way) before the test's cleanup stops them.
  await Promise.all(restarts);
  return { outcomes, entered, actions, truncated };
}

describe("pool under random shutdowns and restarts", () => {
  const seeds = (process.env.CHAOS_SEEDS ?? "1,2").split(",").map(Number);
  const cases = seeds.flatMap((s) => [[s, true, false] as const, [s, false, false] as const, [s, true, true] as const]);
  for (const [seed, retries, subsets] of cases) {
    const name = `seed ${seed}, ${retries ? "retries" : "no retries"}${subsets ? ", subsets of 2" : ""}`;
    it(`never runs a call twice, and never marks a call that ran as never run (${name})`, async () => {
      const { outcomes, entered, actions, truncated } = await runChaos(seed, retries, subsets);
      const context = `${name}; ${actions.join("; ")}`;
      expect(outcomes.length, context).toBeGreaterThan(200);
      // Something failed over: the servers did go down under the calls.
      expect(actions.length, context).toBeGreaterThan(3);
      const problems: string[] = [];
      for (const o of outcomes) {
        const runs = entered.get(o.key) ?? 0;
        if (!o.idempotent && runs > 1) problems.push(`${o.key}: Add ran ${runs} times`);
        if (o.ok && runs === 0) problems.push(`${o.key}: succeeded without running`);
        if (o.ok && !o.idempotent && runs !== 1) problems.push(`${o.key}: Add succeeded after ${runs} runs`);
        if (!o.ok && neverRan(o.error) && runs > 0) problems.push(`${o.key}: marked never run, ran ${runs} times (${o.error?.message})`);
      }
      expect(problems, context).toEqual([]);
      expect(truncated, context).toEqual([]);
      if (!retries) {
        // Drains refused calls and shutdowns cut queued ones: the connections' "never ran" verdicts were put to the test.
        expect(outcomes.filter((o) => !o.ok && neverRan(o.error)).length, context).toBeGreaterThan(0);
      }
    });
  }
});
