/**
 * Subsetting over real servers in this process (12 of them, on 127.0.0.x):
 * each pool connects to its subset, keyless calls stay in it, keyed calls
 * reach their key's server wherever it is, clients with indices cover
 * every server, a failed member is replaced, and a server leaving changes
 * only the subsets that held it. The fleet-scale numbers come from the
 * simulation (fleet-sim.test.ts).
 */
import { afterEach, describe, expect, it } from "vitest";
import { Code, createPool, type PoolEvent, type PoolOptions, type PoolTransport, type RpcError } from "../src/index.js";
import type { TcpEndpoint } from "../src/pool/endpoint.js";
import { until } from "./support/reliability.js";
import { runCalls, startTally, tallyClient, type TallyServer } from "./support/tally.js";

const pools: PoolTransport[] = [];
const servers: TallyServer[] = [];
afterEach(async () => {
  for (const p of pools.splice(0)) p.close();
  await Promise.all(servers.splice(0).map((s) => s.server.close({ graceMs: 0 })));
});

function pool(target: Parameters<typeof createPool>[0], options: PoolOptions): PoolTransport {
  const p = createPool(target, options);
  pools.push(p);
  return p;
}

async function fleet(n: number): Promise<TallyServer[]> {
  const started = await Promise.all(Array.from({ length: n }, (_, i) => startTally(`s${i}`, { host: `127.0.0.${i + 1}` })));
  servers.push(...started);
  return started;
}

/** The servers a pool uses, once every one of them is up. */
async function subsetOf(p: PoolTransport, size: number): Promise<string[]> {
  await p.whenReady();
  await until(
    () => p.stats.addresses.filter((a) => a.state === "ready").length === size,
    `${size} servers ready (${JSON.stringify(p.stats.addresses.map((a) => [a.address, a.state]))})`,
  );
  return p.stats.addresses.filter((a) => a.state === "ready").map((a) => a.address);
}

describe("pool: subsetting", () => {
  it("validates its options where they enter, naming them", () => {
    const bad = (subset: unknown) => {
      try {
        createPool("a:1", { subset: subset as NonNullable<PoolOptions["subset"]> });
      } catch (e) {
        expect((e as RpcError).code).toBe(Code.InvalidArgument);
        return (e as RpcError).rawMessage;
      }
      throw new Error("accepted");
    };
    expect(bad({ size: 0 })).toMatch(/invalid option subset.size/);
    expect(bad({ size: 2.5 })).toMatch(/invalid option subset.size/);
    expect(bad({ minServers: -1 })).toMatch(/invalid option subset.minServers/);
    expect(bad({ clientId: "" })).toMatch(/invalid option subset.clientId/);
    expect(bad({ clientIndex: 1 })).toMatch(/subset.clientIndex and subset.clientCount go together/);
    expect(bad({ clientIndex: 3, clientCount: 3 })).toMatch(/invalid option subset.clientIndex/);
    expect(bad({ clientIndex: 0, clientCount: 0 })).toMatch(/invalid option subset.clientCount/);
    expect(bad({ clientIndex: 0, clientCount: 2, clientId: "x" })).toMatch(/cannot be combined/);
    expect(bad("yes")).toMatch(/subset/);
    expect(() => createPool("a:1", { subset: false }).close()).not.toThrow();
  });

  it("a pool connects to its subset of the resolved servers, and its keyless calls stay there", async () => {
    const s = await fleet(12);
    const p = pool(
      s.map((x) => x.target),
      { subset: { size: 3, minServers: 0, clientId: "client-a" } },
    );
    const subset = await subsetOf(p, 3);
    expect(p.stats.resolved).toBe(12);
    expect(p.stats.addresses.length).toBe(3);
    const client = tallyClient(p);
    const counts = await runCalls(90, 6, (n) => client.get({ key: String(n) }));
    expect(counts.failures).toEqual([]);
    const byName = new Map(s.map((x) => [x.name, x.target]));
    expect([...counts.perServer.keys()].every((name) => subset.includes(byName.get(name) as string))).toBe(true);
    // The same identity chooses the same subset.
    const again = pool(
      s.map((x) => x.target),
      { subset: { size: 3, minServers: 0, clientId: "client-a" } },
    );
    expect((await subsetOf(again, 3)).sort()).toEqual([...subset].sort());
  });

  it("off while the target resolves to minServers servers or fewer", async () => {
    const s = await fleet(4);
    const p = pool(
      s.map((x) => x.target),
      { subset: { size: 2 } },
    );
    await subsetOf(p, 4);
    expect(p.stats.addresses.length).toBe(4);
  });

  it("key-hash: every client sends a key to the same server, connecting to it when it is outside its subset", async () => {
    const s = await fleet(12);
    const clients = ["a", "b"].map((id) =>
      pool(
        s.map((x) => x.target),
        { picker: "key-hash", subset: { size: 2, minServers: 0, clientId: id } },
      ),
    );
    for (const p of clients) await subsetOf(p, 2);
    const keys = Array.from({ length: 40 }, (_, i) => `user-${i}`);
    const homes = await Promise.all(
      clients.map(async (p) => {
        const tally = tallyClient(p);
        const home = new Map<string, string>();
        for (const key of keys) home.set(key, (await tally.get({ key }, { key, timeoutMs: 5000 })).server);
        return home;
      }),
    );
    expect(homes[1]).toEqual(homes[0]);
    expect(new Set(homes[0]?.values()).size).toBeGreaterThan(6);
    // Keys' servers outside the subset were connected on demand; keyless calls still use only the subset.
    for (const p of clients) expect(p.stats.addresses.length).toBeGreaterThan(2);
  });

  it("clients that know their index cover every server between them", async () => {
    const s = await fleet(12);
    const clients = [0, 1, 2, 3].map((i) =>
      pool(
        s.map((x) => x.target),
        { subset: { size: 3, minServers: 0, clientIndex: i, clientCount: 4 } },
      ),
    );
    const used = new Set<string>();
    for (const p of clients) {
      await p.whenReady();
      await until(() => p.stats.addresses.length >= 3 && p.stats.addresses.every((a) => a.state === "ready"), "subset ready");
      for (const a of p.stats.addresses) used.add(a.address);
    }
    expect(used.size).toBe(12);
  });

  it("a member that fails is ejected and replaced by the next server in the client's order; calls go on", async () => {
    const s = await fleet(12);
    const events: PoolEvent[] = [];
    const p = pool(
      s.map((x) => x.target),
      {
        subset: { size: 3, minServers: 0, clientId: "client-e" },
        backoff: { initialMs: 50, maxMs: 100 },
        ejection: { consecutiveFailures: 2, baseMs: 60_000 },
        onEvent: (e) => events.push(e),
      },
    );
    const subset = await subsetOf(p, 3);
    const victim = s.find((x) => x.target === subset[0]) as TallyServer;
    await victim.server.close({ graceMs: 0 });
    await until(() => events.some((e) => e.type === "ejected" && e.address === victim.target), "the stopped member ejected");
    await until(
      () => p.stats.addresses.filter((a) => a.state === "ready" && a.address !== victim.target).length === 3,
      "a replacement ready",
    );
    const now = p.stats.addresses.filter((a) => a.state === "ready").map((a) => a.address);
    expect(now.filter((a) => !subset.includes(a)).length).toBe(1);
    const client = tallyClient(p);
    const counts = await runCalls(60, 6, (n) => client.get({ key: String(n) }));
    expect(counts.failures).toEqual([]);
    expect(counts.perServer.size).toBe(3);
  });

  it("a server that leaves the resolver's answer changes only the subsets that held it, each by one server", async () => {
    const s = await fleet(12);
    let list: TcpEndpoint[] = s.map((x) => ({ host: x.target.split(":")[0] as string, port: x.port }));
    const resolver = { name: "fleet", resolve: () => list };
    const clients = ["a", "b", "c", "d"].map((id) =>
      pool(resolver, { subset: { size: 3, minServers: 0, clientId: id }, resolveIntervalMs: 50 }),
    );
    const before = await Promise.all(clients.map((p) => subsetOf(p, 3)));
    const leaving = before[0]?.[0] as string;
    list = list.filter((e) => `${e.host}:${e.port}` !== leaving);
    await until(() => clients.every((p) => p.stats.resolved === 11), "every client resolved the change");
    const after = await Promise.all(clients.map((p) => subsetOf(p, 3)));
    for (const [i, old] of before.entries()) {
      const now = after[i] as string[];
      const gone = old.filter((a) => !now.includes(a));
      const added = now.filter((a) => !old.includes(a));
      if (old.includes(leaving)) {
        expect(gone).toEqual([leaving]);
        expect(added.length).toBe(1);
      } else {
        expect(gone).toEqual([]);
        expect(added).toEqual([]);
      }
    }
  });
});
