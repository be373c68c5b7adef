/**
 * A server on every core with node:cluster (examples/cluster/dist/cluster.js):
 * a 2-worker cluster restarted worker by worker under load loses no call,
 * whatever the methods' idempotency. Needs `npm run build`.
 */
import { afterEach, describe, expect, it } from "vitest";
import { createPool, type PoolEvent, type PoolTransport } from "../src/index.js";
import { until } from "./support/reliability.js";
import { runLoad, startTallyCluster, stopAll, stopAllLoads, tallyClient, type TallyCluster } from "./support/tally.js";

const pools: PoolTransport[] = [];
const clusters: TallyCluster[] = [];
afterEach(async () => {
  // Loops left by a failed test stop; closing the pools fails their calls at once.
  const loadsStopped = stopAllLoads();
  for (const p of pools.splice(0)) p.close();
  await loadsStopped;
  await stopAll(clusters.splice(0));
});

describe("node:cluster server", () => {
  it("a rolling restart of a 2-worker cluster under load loses 0 calls (Add is not idempotent)", async () => {
    const cluster = await startTallyCluster(2);
    clusters.push(cluster);
    const events: PoolEvent[] = [];
    // Several connections, so calls reach both workers (the primary hands connections out round-robin).
    const p = createPool(`127.0.0.1:${cluster.port}`, { connectionsPerAddress: 4, onEvent: (e) => events.push(e) });
    pools.push(p);
    const client = tallyClient(p);
    const load = runLoad(16, (n) =>
      n % 2 === 0
        ? client.add({ key: String(n % 50), delta: 1, delayMs: 5 }, { timeoutMs: 30_000 })
        : client.get({ key: String(n % 50), delayMs: 5 }, { timeoutMs: 30_000 }),
    );
    try {
      await until(
        () => (load.counts.perServer.get("worker-1") ?? 0) > 100 && (load.counts.perServer.get("worker-2") ?? 0) > 100,
        "load on both workers",
        20_000,
      );
      await cluster.restart();
      const okAfter = load.counts.ok;
      await until(() => load.counts.ok > okAfter + 500, "load after the restart", 20_000);
      // Twice, so the replacements are replaced in turn.
      await cluster.restart();
      const okAfter2 = load.counts.ok;
      await until(() => load.counts.ok > okAfter2 + 500, "load after the second restart", 20_000);
    } finally {
      await load.stop();
    }
    expect(load.counts.failures.map((e) => e.message)).toEqual([]);
    // Every generation of workers served calls: 1 and 2, then 3 and 4, then 5 and 6.
    for (const w of ["worker-1", "worker-2", "worker-3", "worker-4", "worker-5", "worker-6"])
      expect(load.counts.perServer.get(w) ?? 0, w).toBeGreaterThan(0);
    // The draining workers' refusals were sent again elsewhere.
    expect(events.some((e) => e.type === "connection_retiring" && e.reason === "server_draining")).toBe(true);
  });
});
