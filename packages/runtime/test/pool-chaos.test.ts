/**
 * The pool under servers that drain, shut down and come back in random
 * orders (seeded), with calls in flight all the time. Whatever the order:
 * - a call of a method that is not idempotent runs at most once;
 * - a call that fails marked `neverRan` ran nowhere;
 * - one that succeeded ran exactly once (not idempotent) or at least once;
 * - every call settles.
 * Each call carries a unique key; the servers record every handler entry.
 * Once with the pool's retries, once without (every failure then reaches
 * the caller with its connection's verdict). CHAOS_SEEDS=1,2,… replays
 * other orders.
 */
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
      async *watch() {},
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

const pools: PoolTransport[] = [];
const slots: ChaosServer[] = [];
afterEach(async () => {
  for (const p of pools.splice(0)) p.close();
  await Promise.all(slots.splice(0).map((s) => s.stop(0)));
});

interface Outcome {
  key: string;
  idempotent: boolean;
  ok: boolean;
  error?: RpcError;
}

async function runChaos(seed: number, retries: boolean): Promise<{ outcomes: Outcome[]; entered: Map<string, number>; actions: string[] }> {
  const random = prng(seed);
  const entered = new Map<string, number>();
  const servers = ["a", "b", "c"].map((n, i) => new ChaosServer(n, `127.0.0.${i + 1}`, entered));
  slots.push(...servers);
  await Promise.all(servers.map((s) => s.start()));
  const p = createPool(
    servers.map((s) => `${s.host}:${s.port}`),
    {
      connectionsPerAddress: 2,
      backoff: { initialMs: 10, maxMs: 50 },
      waitForReadyMs: 1_000,
      ejection: false,
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
  let running = true;
  let n = 0;
  const loops = Array.from({ length: 24 }, async (_, loop) => {
    while (running) {
      const i = n++;
      const idempotent = i % 4 === 3;
      const key = `${seed}-${loop}-${i}`;
      const delayMs = Math.floor(random() * 15);
      try {
        if (idempotent) await client.get({ key, delayMs }, { timeoutMs: 3_000 });
        else await client.add({ key, delta: 1, delayMs }, { timeoutMs: 3_000 });
        outcomes.push({ key, idempotent, ok: true });
      } catch (e) {
        outcomes.push({ key, idempotent, ok: false, error: e as RpcError });
        await sleep(1);
      }
    }
  });

  // Random shutdowns and restarts: draining with a grace period long or short, or at once; at most two down at a time.
  const chaos = (async () => {
    for (let step = 0; step < 12; step++) {
      await sleep(40 + Math.floor(random() * 120));
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
  return { outcomes, entered, actions };
}

describe("pool under random shutdowns and restarts", () => {
  const seeds = (process.env.CHAOS_SEEDS ?? "1,2").split(",").map(Number);
  for (const [seed, retries] of seeds.flatMap((s) => [[s, true] as const, [s, false] as const])) {
    it(`never runs a call twice, and never marks a call that ran as never run (seed ${seed}, ${retries ? "retries" : "no retries"})`, async () => {
      const { outcomes, entered, actions } = await runChaos(seed, retries);
      const context = `seed ${seed}, retries ${retries}; ${actions.join("; ")}`;
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
      if (!retries) {
        // Drains refused calls and shutdowns cut queued ones: the connections' "never ran" verdicts were put to the test.
        expect(outcomes.filter((o) => !o.ok && neverRan(o.error)).length, context).toBeGreaterThan(0);
      }
    });
  }
});
