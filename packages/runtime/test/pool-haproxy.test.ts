/**
 * A pool behind a real HAProxy (Debian's `haproxy` package) in `mode tcp`
 * with health checks, in front of 3 tally server processes on 127.0.0.1,
 * .2 and .3. HAProxy balances connections, not calls: a client with one
 * connection stays on one backend, unless the pool ages its connections
 * out. `.ci/run` installs haproxy; elsewhere these tests are skipped when it
 * is missing (under CI they fail instead). Needs `npm run build`.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer as createNetServer, connect as netConnect } from "node:net";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createPool, type PoolTransport } from "../src/index.js";
import { until } from "./support/reliability.js";
import { runCalls, runLoad, startTallyProcess, stopAll, stopAllLoads, tallyClient, type TallyProcess } from "./support/tally.js";

/** The haproxy binary: on PATH, or where Debian puts it (/usr/sbin is not on every user's PATH). */
function findHaproxy(): string | undefined {
  const dirs = [...(process.env.PATH ?? "").split(delimiter), "/usr/sbin", "/usr/local/sbin"];
  for (const d of dirs) if (d !== "" && existsSync(join(d, "haproxy"))) return join(d, "haproxy");
  return undefined;
}

const HAPROXY = findHaproxy();
const IN_CI = process.env.CI !== undefined && process.env.CI !== "" && process.env.CI !== "false";
const MISSING =
  "haproxy is not installed: these tests need Debian's haproxy package (sudo apt-get install -y haproxy); .ci/run installs it";

if (HAPROXY === undefined && !IN_CI) console.warn(`pool-haproxy.test.ts: skipped, ${MISSING}`);

async function freePort(): Promise<number> {
  const s = createNetServer();
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", r));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const c = netConnect({ host: "127.0.0.1", port });
    c.once("connect", () => {
      c.destroy();
      resolve(true);
    });
    c.once("error", () => resolve(false));
  });
}

describe.skipIf(HAPROXY === undefined && !IN_CI)("pool behind HAProxy (mode tcp, health checks)", () => {
  let haproxy: ChildProcess | undefined;
  let haproxyExited: Promise<void> | undefined;
  let haproxyLog = "";
  let frontend = 0;
  let dir = "";
  const backends: TallyProcess[] = [];
  const pools: PoolTransport[] = [];

  beforeAll(async () => {
    if (HAPROXY === undefined) throw new Error(`CI: ${MISSING}`);
    backends.push(
      ...(await Promise.all([
        startTallyProcess("a", { host: "127.0.0.1" }),
        startTallyProcess("b", { host: "127.0.0.2" }),
        startTallyProcess("c", { host: "127.0.0.3" }),
      ])),
    );
    frontend = await freePort();
    dir = mkdtempSync(join(tmpdir(), "pool-haproxy-"));
    const config = join(dir, "haproxy.cfg");
    writeFileSync(
      config,
      [
        "global",
        "  maxconn 2048",
        "defaults",
        "  mode tcp",
        "  timeout connect 2s",
        "  timeout client 60s",
        "  timeout server 60s",
        "  retries 2",
        "  option redispatch",
        "frontend protosocket",
        `  bind 127.0.0.1:${frontend}`,
        "  default_backend tally",
        "backend tally",
        "  balance roundrobin",
        // TCP connect checks every 100 ms: down after 2 failures, up after 1 success.
        "  default-server check inter 100ms fall 2 rise 1",
        ...backends.map((b) => `  server ${b.name} ${b.target}`),
        "",
      ].join("\n"),
    );
    const child = spawn(HAPROXY, ["-f", config, "-db"], { stdio: ["ignore", "pipe", "pipe"] });
    haproxy = child;
    child.stdout?.on("data", (d: Buffer) => (haproxyLog = (haproxyLog + d.toString()).slice(-4000)));
    child.stderr?.on("data", (d: Buffer) => (haproxyLog = (haproxyLog + d.toString()).slice(-4000)));
    haproxyExited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
    let up = false;
    await until(
      () => {
        if (child.exitCode !== null) throw new Error(`haproxy exited: ${haproxyLog}`);
        void canConnect(frontend).then((ok) => (up ||= ok));
        return up;
      },
      () => `haproxy to listen: ${haproxyLog}`,
      20_000,
    );
  });

  afterAll(async () => {
    const loadsStopped = stopAllLoads();
    for (const p of pools.splice(0)) p.close();
    await loadsStopped;
    if (haproxy !== undefined && haproxy.exitCode === null) {
      haproxy.kill("SIGTERM");
      await haproxyExited;
    }
    await stopAll(backends.splice(0));
    if (dir !== "") rmSync(dir, { recursive: true, force: true });
  });

  it("calls go through HAProxy to the backends", async () => {
    const p = createPool(`127.0.0.1:${frontend}`, { connectionsPerAddress: 3 });
    pools.push(p);
    const counts = await runCalls(60, 6, (n) => tallyClient(p).get({ key: String(n) }, { timeoutMs: 10_000 }));
    expect(counts.failures).toEqual([]);
    expect(counts.ok).toBe(60);
  });

  it("a client with one connection and no maximum age stays on one backend", async () => {
    const p = createPool(`127.0.0.1:${frontend}`);
    pools.push(p);
    const counts = await runCalls(300, 4, (n) => tallyClient(p).get({ key: String(n) }, { timeoutMs: 10_000 }));
    expect(counts.failures).toEqual([]);
    expect(counts.perServer.size).toBe(1);
  });

  it("with maxConnectionAgeMs, load from a client with one connection reaches all 3 backends", async () => {
    const p = createPool(`127.0.0.1:${frontend}`, { maxConnectionAgeMs: 100 });
    pools.push(p);
    const load = runLoad(4, (n) => tallyClient(p).get({ key: String(n), delayMs: 1 }, { timeoutMs: 10_000 }));
    try {
      await until(
        () => ["a", "b", "c"].every((s) => (load.counts.perServer.get(s) ?? 0) >= 50),
        () => JSON.stringify(Object.fromEntries(load.counts.perServer)),
        30_000,
      );
    } finally {
      await load.stop();
    }
    expect(load.counts.failures).toEqual([]);
    expect(p.stats.addresses[0]?.connectionsUp).toBeGreaterThanOrEqual(3);
  });

  it("a backend killed under load: HAProxy's checks take it out, idempotent calls through the pool do not fail", async () => {
    const p = createPool(`127.0.0.1:${frontend}`, {
      maxConnectionAgeMs: 100,
      connectionsPerAddress: 2,
      backoff: { initialMs: 50, maxMs: 200 },
    });
    pools.push(p);
    const load = runLoad(8, (n) => tallyClient(p).get({ key: String(n), delayMs: 2 }, { timeoutMs: 20_000 }));
    try {
      await until(
        () => ["a", "b", "c"].every((s) => (load.counts.perServer.get(s) ?? 0) >= 50),
        () => JSON.stringify(Object.fromEntries(load.counts.perServer)),
        30_000,
      );
      const victim = backends[2] as TallyProcess;
      victim.process.kill("SIGKILL");
      await victim.exited;
      const seen = { a: load.counts.perServer.get("a") ?? 0, b: load.counts.perServer.get("b") ?? 0 };
      // Load goes on to a and b, over connections HAProxy opens to them only.
      await until(
        () => (load.counts.perServer.get("a") ?? 0) > seen.a + 200 && (load.counts.perServer.get("b") ?? 0) > seen.b + 200,
        "load on a and b",
        30_000,
      );
    } finally {
      await load.stop();
    }
    expect(load.counts.failures.map((e) => e.message)).toEqual([]);
  });
});
