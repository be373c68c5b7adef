/**
 * dns:/// and srv:/// targets against a DNS server on 127.0.0.1 that the
 * test changes (the target names it: dns://127.0.0.1:port/…, which the pool
 * hands to dns.Resolver#setServers), with tally servers in processes of
 * their own. Needs `npm run build`.
 */
import { readFileSync } from "node:fs";
import { afterEach, describe, expect, it } from "vitest";
import { Code, createPool, createServer, RpcError, type PoolEvent, type PoolTransport } from "../src/index.js";
import { startDnsServer, type TestDnsServer } from "./support/dns-server.js";
import { until } from "./support/reliability.js";
import {
  runLoad,
  startTallyProcess,
  stopAll,
  stopAllLoads,
  tallyClient,
  type TallyProcess,
  TallyServiceDefinition,
} from "./support/tally.js";
import { createTallyHandlers } from "../../../examples/cluster/dist/tally-handlers.js";

const pools: PoolTransport[] = [];
const processes: TallyProcess[] = [];
let dns: TestDnsServer | undefined;
afterEach(async () => {
  // Loops left by a failed test stop; closing the pools fails their calls at once.
  const loadsStopped = stopAllLoads();
  for (const p of pools.splice(0)) p.close();
  await loadsStopped;
  await stopAll(processes.splice(0));
  await dns?.close();
  dns = undefined;
});

/** Tally processes on 127.0.0.1, .2 and .3, all on one port (a DNS answer carries addresses, not ports). */
async function samePortServers(): Promise<TallyProcess[]> {
  for (let attempt = 0; ; attempt++) {
    const first = await startTallyProcess("a", { host: "127.0.0.1" });
    processes.push(first);
    try {
      const rest = await Promise.all([
        startTallyProcess("b", { host: "127.0.0.2", port: first.port }),
        startTallyProcess("c", { host: "127.0.0.3", port: first.port }),
      ]);
      processes.push(...rest);
      return [first, ...rest];
    } catch (e) {
      // The port was taken on another address: try another.
      await stopAll(processes.splice(0));
      if (attempt >= 5) throw e;
    }
  }
}

describe("pool with dns:/// and srv:/// targets", () => {
  it("dns:///: follows the A records as they change, re-resolved on an interval", async () => {
    dns = await startDnsServer();
    const [a, b, c] = await samePortServers();
    dns.setA("tally.test", [a!.host, b!.host]);
    const events: PoolEvent[] = [];
    const p = createPool(`dns://${dns.address}/tally.test:${a!.port}`, {
      resolveIntervalMs: 100,
      picker: "round-robin",
      onEvent: (e) => events.push(e),
    });
    pools.push(p);
    const client = tallyClient(p);
    const load = runLoad(4, (n) => client.get({ key: String(n), delayMs: 1 }, { timeoutMs: 10_000 }));
    try {
      await until(() => (load.counts.perServer.get("a") ?? 0) > 20 && (load.counts.perServer.get("b") ?? 0) > 20, "load on a and b");
      expect(load.counts.perServer.has("c")).toBe(false);
      // The answer changes: a leaves, c joins.
      dns.setA("tally.test", [b!.host, c!.host]);
      await until(() => (load.counts.perServer.get("c") ?? 0) > 20, "load on c");
      await until(() => !p.stats.addresses.some((x) => x.address === a!.target), "a to be dropped");
      const aCalls = load.counts.perServer.get("a") ?? 0;
      const cCalls = load.counts.perServer.get("c") ?? 0;
      await until(() => (load.counts.perServer.get("c") ?? 0) > cCalls + 50, "more load on c");
      expect(load.counts.perServer.get("a")).toBe(aCalls);
    } finally {
      await load.stop();
    }
    expect(load.counts.failures).toEqual([]);
    expect(p.stats.addresses.map((x) => x.address).sort()).toEqual([b!.target, c!.target]);
    // The connection to a drained: closed by the pool, not lost.
    expect(events.some((e) => e.type === "connection_retiring" && e.address === a!.target && e.reason === "removed")).toBe(true);
    expect(
      events.filter((e) => e.type === "connection_down" && e.address === a!.target).every((e) => e.type === "connection_down" && e.planned),
    ).toBe(true);
  });

  it("dns:/// with subsets of 2: a member that leaves the records is replaced; a server outside the subset leaving changes nothing", async () => {
    dns = await startDnsServer();
    const servers = (await samePortServers()) as TallyProcess[];
    dns.setA(
      "tally.test",
      servers.map((s) => s.host),
    );
    const events: PoolEvent[] = [];
    const p = createPool(`dns://${dns.address}/tally.test:${servers[0]?.port}`, {
      resolveIntervalMs: 100,
      subset: { size: 2, minServers: 0, clientId: "dns" },
      onEvent: (e) => events.push(e),
    });
    pools.push(p);
    await p.whenReady();
    const ready = () => p.stats.addresses.filter((a) => a.state === "ready").map((a) => a.address);
    await until(() => ready().length === 2, "two servers ready");
    const members = ready();
    const outside = servers.find((s) => !members.includes(s.target)) as TallyProcess;
    const [kept, leaving] = servers.filter((s) => members.includes(s.target)) as [TallyProcess, TallyProcess];
    const client = tallyClient(p);
    const load = runLoad(4, (n) => client.get({ key: String(n), delayMs: 1 }, { timeoutMs: 10_000 }));
    try {
      // The server outside the subset leaves the records: nothing moves.
      dns.setA("tally.test", [kept.host, leaving.host]);
      await until(() => p.stats.resolved === 2, "the pool to see two records");
      expect(ready().sort()).toEqual([...members].sort());
      // A member leaves and the other comes back: it takes the member's place.
      dns.setA("tally.test", [kept.host, outside.host]);
      await until(() => ready().includes(outside.target) && !ready().includes(leaving.target), "the subset to change");
      const onOutside = load.counts.perServer.get(outside.name) ?? 0;
      await until(() => (load.counts.perServer.get(outside.name) ?? 0) > onOutside + 20, "load on the server that came in");
    } finally {
      await load.stop();
    }
    expect(load.counts.failures).toEqual([]);
    expect(ready().sort()).toEqual([kept.target, outside.target].sort());
    expect(events.some((e) => e.type === "connection_retiring" && e.address === leaving.target && e.reason === "removed")).toBe(true);
    expect(events.some((e) => e.type === "connection_retiring" && e.address !== leaving.target)).toBe(false);
  });

  it("dns:///: resolves again soon after a connection fails, not only on the interval", async () => {
    dns = await startDnsServer();
    const [a, b] = await samePortServers();
    dns.setA("tally.test", [a!.host]);
    const p = createPool(`dns://${dns.address}/tally.test:${a!.port}`, {
      resolveIntervalMs: 600_000,
      minResolveIntervalMs: 0,
      backoff: { initialMs: 50 },
    });
    pools.push(p);
    const client = tallyClient(p);
    expect((await client.get({ key: "k" })).server).toBe("a");
    const resolutions = p.stats.resolutions;
    dns.setA("tally.test", [b!.host]);
    await a!.stop();
    // The interval is 10 minutes: only the failure makes the pool ask again.
    expect((await client.get({ key: "k" }, { timeoutMs: 10_000 })).server).toBe("b");
    expect(p.stats.resolutions).toBeGreaterThan(resolutions);
  });

  it("srv:///: ports and weights from SRV records, followed as they change", async () => {
    dns = await startDnsServer();
    const [x, y, z] = await Promise.all([
      startTallyProcess("x", { host: "127.0.0.1" }),
      startTallyProcess("y", { host: "127.0.0.2" }),
      startTallyProcess("z", { host: "127.0.0.3" }),
    ]);
    processes.push(x, y, z);
    dns.setA("x.test", [x.host]);
    dns.setA("y.test", [y.host]);
    dns.setA("z.test", [z.host]);
    dns.setSrv("_tally._tcp.test", [
      { priority: 10, weight: 1, port: x.port, target: "x.test" },
      { priority: 10, weight: 3, port: y.port, target: "y.test" },
      // A higher priority value: used only if the others are gone.
      { priority: 20, weight: 1, port: z.port, target: "z.test" },
    ]);
    const p = createPool(`srv://${dns.address}/_tally._tcp.test`, { resolveIntervalMs: 100, picker: "round-robin" });
    pools.push(p);
    await p.whenReady();
    await until(() => p.stats.addresses.length === 2 && p.stats.addresses.every((a) => a.state === "ready"), "x and y ready");
    const client = tallyClient(p);
    const counts = new Map<string, number>();
    for (let i = 0; i < 400; i++) {
      const { server } = await client.get({ key: String(i) });
      counts.set(server, (counts.get(server) ?? 0) + 1);
    }
    // Weights 1 and 3: a quarter and three quarters (±15 %).
    expect(counts.get("x")! / 100).toBeGreaterThanOrEqual(0.85);
    expect(counts.get("x")! / 100).toBeLessThanOrEqual(1.15);
    expect(counts.get("y")! / 300).toBeGreaterThanOrEqual(0.85);
    expect(counts.has("z")).toBe(false);
    expect(p.stats.addresses.find((a) => a.address === y.target)?.weight).toBe(3);
    // The records change: only z is left.
    dns.setSrv("_tally._tcp.test", [{ priority: 20, weight: 1, port: z.port, target: "z.test" }]);
    await until(() => p.stats.addresses.length === 1, "x and y to be dropped");
    expect((await client.get({ key: "k" }, { timeoutMs: 10_000 })).server).toBe("z");
  });

  it("TLS: the server name is the resolved name, not the address dialled", async () => {
    dns = await startDnsServer();
    // A certificate for the name "other" only (not for 127.0.0.1).
    const fixtures = new URL("fixtures/", import.meta.url);
    const cert = readFileSync(new URL("other.crt", fixtures));
    // A short handshake timeout: the handshakes the client refuses below do not hold the server's close.
    const server = createServer({ tlsHandshakeTimeoutMs: 500 });
    server.register(TallyServiceDefinition, createTallyHandlers("tls"));
    const { port } = await server.listen({ host: "127.0.0.1", port: 0, tls: { cert, key: readFileSync(new URL("other.key", fixtures)) } });
    try {
      dns.setA("other", ["127.0.0.1"]);
      const p = createPool(`dns://${dns.address}/other:${port}`, { tls: { ca: cert } });
      pools.push(p);
      expect((await tallyClient(p).get({ key: "k" }, { timeoutMs: 10_000 })).server).toBe("tls");
      // The same server by its address: the certificate does not match, the pool cannot connect.
      const byAddress = createPool(`127.0.0.1:${port}`, { tls: { ca: cert }, waitForReadyMs: 500, backoff: { initialMs: 50 } });
      pools.push(byAddress);
      const e = await tallyClient(byAddress)
        .get({ key: "k" })
        .catch((err: unknown) => err as RpcError);
      expect(e).toBeInstanceOf(RpcError);
      expect((e as RpcError).code).toBe(Code.Unavailable);
      expect((e as RpcError).rawMessage).toMatch(/ERR_TLS_CERT_ALTNAME_INVALID|altname/i);
    } finally {
      for (const p of pools.splice(0)) p.close();
      await server.close({ graceMs: 0 });
    }
  });

  it("dns:/// without a server uses the system's resolver (and /etc/hosts)", async () => {
    const p0 = await startTallyProcess("local", { host: "127.0.0.1" });
    processes.push(p0);
    const p = createPool(`dns:///localhost:${p0.port}`);
    pools.push(p);
    expect((await tallyClient(p).get({ key: "k" }, { timeoutMs: 10_000 })).server).toBe("local");
    expect(p.stats.addresses.map((a) => a.address)).toContain(`127.0.0.1:${p0.port}`);
  });
});
