/**
 * A pool against tally servers in processes of their own, on 127.0.0.1,
 * other 127.0.0.x addresses and a unix socket: the spread of load, key-hash
 * stability, and a server killed (SIGKILL) under load; each with every
 * server and with subsets of 2 of the 3. Needs `npm run build` (the servers
 * run examples/cluster/dist).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { Code, createContextValues, createPool, poolCallInfo, type PoolOptions, type PoolTransport } from "../src/index.js";
import { until } from "./support/reliability.js";
import { runCalls, runLoad, startTallyProcess, stopAll, stopAllLoads, tallyClient, type TallyProcess } from "./support/tally.js";

const pools: PoolTransport[] = [];
const processes: TallyProcess[] = [];
const dirs: string[] = [];
afterEach(async () => {
  // Loops left by a failed test stop; closing the pools fails their calls at once.
  const loadsStopped = stopAllLoads();
  for (const p of pools.splice(0)) p.close();
  await loadsStopped;
  await stopAll(processes.splice(0));
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

async function allReady(p: PoolTransport, n: number): Promise<void> {
  await p.whenReady();
  await until(() => p.stats.addresses.length === n && p.stats.addresses.every((a) => a.state === "ready"), "every server ready", 20_000);
}

/** The servers on TCP that `p` uses now (with subsets, not all of them). */
function usedTcp(p: PoolTransport, servers: TallyProcess[]): TallyProcess[] {
  return servers.filter((s) => !s.target.startsWith("unix:") && p.stats.addresses.some((a) => a.address === s.target));
}

/** Every server, or subsets of 2 of the 3 (subsetting on below its default fleet size). */
const VARIANTS: { name: string; subset: NonNullable<PoolOptions["subset"]>; size: number }[] = [
  { name: "every server", subset: false, size: 3 },
  { name: "subsets of 2", subset: { size: 2, minServers: 0, clientId: "processes" }, size: 2 },
];

/** Three server processes: 127.0.0.2, 127.0.0.3 and a unix socket. */
async function threeServers(): Promise<TallyProcess[]> {
  const dir = mkdtempSync(join(tmpdir(), "pool-proc-"));
  dirs.push(dir);
  const started = await Promise.all([
    startTallyProcess("a", { host: "127.0.0.2" }),
    startTallyProcess("b", { host: "127.0.0.3" }),
    startTallyProcess("c", { path: join(dir, "c.sock") }),
  ]);
  processes.push(...started);
  return started;
}

/** Each server's share of `total`, as a fraction of an even share (1 = exactly even). */
function shares(perServer: Map<string, number>, names: string[], total: number): number[] {
  return names.map((n) => ((perServer.get(n) ?? 0) * names.length) / total);
}

describe("pool against server processes", () => {
  it("spreads load within ±15 % over 3 processes, with round-robin and with least-outstanding", async () => {
    const servers = await threeServers();
    const names = servers.map((s) => s.name);
    for (const picker of ["round-robin", "least-outstanding"] as const) {
      const p = createPool(
        servers.map((s) => s.target),
        { picker },
      );
      pools.push(p);
      await allReady(p, 3);
      const client = tallyClient(p);
      // Each call waits 10 ms in its server: the servers have time to spare, so the picker alone decides.
      const counts = await runCalls(3000, 30, (n) => client.get({ key: String(n), delayMs: 10 }));
      expect(counts.failures).toEqual([]);
      for (const share of shares(counts.perServer, names, 3000)) {
        expect(share, `${picker}: ${JSON.stringify(Object.fromEntries(counts.perServer))}`).toBeGreaterThanOrEqual(0.85);
        expect(share, `${picker}: ${JSON.stringify(Object.fromEntries(counts.perServer))}`).toBeLessThanOrEqual(1.15);
      }
      p.close();
    }
  });

  it("with subsets of 2 of the 3, three clients that know their index spread load within ±15 % over the 3", async () => {
    const servers = await threeServers();
    const names = servers.map((s) => s.name);
    const clients = [0, 1, 2].map((i) => {
      const p = createPool(
        servers.map((s) => s.target),
        { subset: { size: 2, minServers: 0, clientIndex: i, clientCount: 3 } },
      );
      pools.push(p);
      return p;
    });
    // Subsets of 2, or of 3 when three clients' subsets of 2 would leave a server out (it depends on the unix socket's name).
    for (const p of clients) {
      await p.whenReady();
      await until(() => p.stats.addresses.length >= 2 && p.stats.addresses.every((a) => a.state === "ready"), "subset ready", 20_000);
    }
    const counts = await Promise.all(clients.map((p) => runCalls(1000, 10, (n) => tallyClient(p).get({ key: String(n), delayMs: 10 }))));
    const perServer = new Map<string, number>();
    for (const c of counts) {
      expect(c.failures).toEqual([]);
      for (const [server, n] of c.perServer) perServer.set(server, (perServer.get(server) ?? 0) + n);
    }
    for (const share of shares(perServer, names, 3000)) {
      expect(share, JSON.stringify(Object.fromEntries(perServer))).toBeGreaterThanOrEqual(0.85);
      expect(share, JSON.stringify(Object.fromEntries(perServer))).toBeLessThanOrEqual(1.15);
    }
  });
});

describe.each(VARIANTS)("pool against server processes ($name)", ({ subset, size }) => {
  it("key-hash: one key always reaches one server; when one of 3 leaves, only its keys (about a third) move", async () => {
    const servers = await threeServers();
    const p = createPool(
      servers.map((s) => s.target),
      { picker: "key-hash", backoff: { initialMs: 200 }, subset },
    );
    pools.push(p);
    await allReady(p, size);
    const client = tallyClient(p);
    const keys = Array.from({ length: 300 }, (_, i) => `customer-${i}`);
    const where = async () => {
      const home = new Map<string, string>();
      for (let i = 0; i < keys.length; i += 30) {
        await Promise.all(
          keys.slice(i, i + 30).map(async (key) => {
            home.set(key, (await client.get({ key }, { key })).server);
          }),
        );
      }
      return home;
    };
    const first = await where();
    const second = await where();
    expect(second).toEqual(first);
    const perServer = [...first.values()].reduce((m, s) => m.set(s, (m.get(s) ?? 0) + 1), new Map<string, number>());
    expect(perServer.size).toBe(3);
    // "c" leaves (gracefully); once the pool has seen it go, the keys are asked again.
    const leaving = servers[2] as TallyProcess;
    await leaving.stop();
    await until(() => p.stats.addresses.find((a) => a.address === leaving.target)?.state !== "ready", "the pool to see c gone");
    const after = await where();
    const moved = keys.filter((k) => after.get(k) !== first.get(k));
    // Only c's keys move, and every one of them moves.
    expect(moved.every((k) => first.get(k) === "c")).toBe(true);
    expect(moved.length).toBe(perServer.get("c"));
    expect(moved.length / keys.length).toBeGreaterThan(0.2);
    expect(moved.length / keys.length).toBeLessThan(0.47);
  });

  it("a server killed under load: idempotent calls 0 failures; the restarted server gets load again", async () => {
    const servers = await threeServers();
    const p = createPool(
      servers.map((s) => s.target),
      // Short ejections: on a busy machine the restart may take long enough for one.
      { backoff: { initialMs: 100, maxMs: 400 }, ejection: { baseMs: 200 }, subset },
    );
    pools.push(p);
    await allReady(p, size);
    const client = tallyClient(p);
    const load = runLoad(24, (n) => client.get({ key: String(n), delayMs: 5 }, { timeoutMs: 20_000 }));
    await until(() => load.counts.ok >= 300, "load on every server", 20_000);
    // One the pool uses (with subsets, its ejection brings in the third server until it is back).
    const victim = usedTcp(p, servers)[0] as TallyProcess;
    victim.process.kill("SIGKILL");
    await victim.exited;
    const okAtKill = load.counts.ok;
    await until(() => load.counts.ok >= okAtKill + 300, "load to go on", 20_000);
    // Back on the same address: the pool reconnects within its backoff and sends it calls.
    const back = await startTallyProcess(`${victim.name}-again`, { host: victim.host, port: victim.port });
    processes.push(back);
    await until(
      () => (load.counts.perServer.get(`${victim.name}-again`) ?? 0) >= 100,
      () => `load on the restarted server (${JSON.stringify(p.stats.addresses)})`,
      30_000,
    );
    await load.stop();
    expect(load.counts.failures.map((e) => e.message)).toEqual([]);
    expect(p.stats.retries).toBeGreaterThan(0);
    expect(p.stats.addresses.find((a) => a.address === victim.target)?.connectionsUp).toBeGreaterThanOrEqual(2);
  });

  it("a server killed under load: calls that are not idempotent fail only if they were on it, with unavailable", async () => {
    const servers = await threeServers();
    const p = createPool(
      servers.map((s) => s.target),
      // Short ejections: on a busy machine the restart may take long enough for one.
      { backoff: { initialMs: 100, maxMs: 400 }, ejection: { baseMs: 200 }, subset },
    );
    pools.push(p);
    await allReady(p, size);
    const client = tallyClient(p);
    const failedOn: string[] = [];
    const load = runLoad(24, async (n) => {
      const contextValues = createContextValues();
      try {
        return await client.add({ key: String(n), delta: 1, delayMs: 20 }, { timeoutMs: 20_000, contextValues });
      } catch (e) {
        const attempts = contextValues.get(poolCallInfo)?.attempts ?? [];
        failedOn.push(attempts.map((a) => a.address).join(" then "));
        throw e;
      }
    });
    await until(() => load.counts.ok >= 200, "load on every server", 20_000);
    const victim = usedTcp(p, servers).at(-1) as TallyProcess;
    const stat = () => p.stats.addresses.find((a) => a.address === victim.target);
    const inFlight = stat()?.pendingCalls ?? 0;
    const picksAtKill = stat()?.picks ?? 0;
    victim.process.kill("SIGKILL");
    await victim.exited;
    const okAtKill = load.counts.ok;
    await until(() => load.counts.ok >= okAtKill + 300, "load to go on", 20_000);
    await load.stop();
    const failures = load.counts.failures;
    // Calls in flight on the killed server may have run: they fail, with unavailable, and nothing else does.
    expect(inFlight).toBeGreaterThan(0);
    expect(load.counts.failed).toBeGreaterThan(0);
    expect(load.counts.failed).toBeLessThanOrEqual(inFlight + ((stat()?.picks ?? 0) - picksAtKill));
    expect(failures.every((e) => e.code === Code.Unavailable)).toBe(true);
    expect(failedOn.every((where) => where === victim.target)).toBe(true);
  });
});
