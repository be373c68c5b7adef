/**
 * Helpers of the pool tests: tally servers (examples/cluster) in this
 * process or in their own, and load loops that count where calls went.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { createClient, createServer, type Server, type ServerOptions, type Transport } from "../../src/index.js";
import type { RpcError } from "../../src/index.js";
import { TallyServiceDefinition } from "@protosocket/gen/cluster/v1/tally_protosocket.js";
import { createTallyHandlers } from "../../../../examples/cluster/dist/tally-handlers.js";

export { TallyServiceDefinition };

/** A tally server in this process. */
export interface TallyServer {
  readonly name: string;
  readonly server: Server;
  /** "host:port" or "unix:/path", as a pool target. */
  readonly target: string;
  readonly port: number;
}

/** Starts a tally server in this process on `host` (port 0 unless given), or on a unix socket `path`. */
export async function startTally(
  name: string,
  listen: { host?: string; port?: number; path?: string } = {},
  options: ServerOptions = {},
): Promise<TallyServer> {
  const server = createServer(options);
  server.register(TallyServiceDefinition, createTallyHandlers(name));
  const address = await server.listen(
    listen.path !== undefined ? { path: listen.path } : { host: listen.host ?? "127.0.0.1", port: listen.port ?? 0 },
  );
  return {
    name,
    server,
    port: address.port,
    target: address.path !== undefined ? `unix://${address.path}` : `${address.host}:${address.port}`,
  };
}

/** A tally client on any transport. */
export function tallyClient(transport: Transport) {
  return createClient(TallyServiceDefinition, transport);
}

/** A tally server in a process of its own (examples/cluster/dist/server.js; `npm run build` first). */
export interface TallyProcess {
  readonly name: string;
  readonly process: ChildProcess;
  readonly host: string;
  readonly port: number;
  readonly target: string;
  readonly exited: Promise<void>;
  /** SIGTERM (graceful close) and wait for the exit. */
  stop(): Promise<void>;
}

const SERVER_SCRIPT = fileURLToPath(new URL("../../../../examples/cluster/dist/server.js", import.meta.url));
const CLUSTER_SCRIPT = fileURLToPath(new URL("../../../../examples/cluster/dist/cluster.js", import.meta.url));

/** Runs `node <script> …args` and resolves once it prints its LISTENING line. */
function startListening(
  script: string,
  args: string[],
): Promise<{ child: ChildProcess; where: string; lines: string[]; exited: Promise<void>; stderr: () => string }> {
  const child = spawn(process.execPath, [script, ...args], { stdio: ["ignore", "pipe", "pipe"] });
  const lines: string[] = [];
  let err = "";
  child.stderr?.on("data", (d: Buffer) => (err = (err + d.toString()).slice(-4000)));
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${script} did not listen within 20 s: ${err}`)), 20_000);
    createInterface({ input: child.stdout! }).on("line", (line) => {
      lines.push(line);
      if (line.startsWith("LISTENING ")) {
        clearTimeout(timer);
        resolve({ child, where: line.slice("LISTENING ".length), lines, exited, stderr: () => err });
      }
    });
    void exited.then(() => {
      clearTimeout(timer);
      reject(new Error(`${script} exited before listening: ${err}`));
    });
  });
}

/** Starts a tally server process named `name` on host:port (port 0 picks one), or on a unix socket `path`. */
export async function startTallyProcess(
  name: string,
  where: { host?: string; port?: number; path?: string; graceMs?: number } = {},
): Promise<TallyProcess> {
  const host = where.host ?? "127.0.0.1";
  const listen = where.path !== undefined ? ["--path", where.path] : ["--host", host, "--port", String(where.port ?? 0)];
  const {
    child,
    where: at,
    exited,
  } = await startListening(SERVER_SCRIPT, ["--name", name, ...listen, "--grace-ms", String(where.graceMs ?? 10_000)]);
  const boundPort = where.path !== undefined ? 0 : Number(at.slice(at.lastIndexOf(":") + 1));
  return {
    name,
    process: child,
    host,
    port: boundPort,
    target: where.path !== undefined ? `unix://${where.path}` : `${host}:${boundPort}`,
    exited,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
      await exited;
    },
  };
}

/** Stops every process, whatever state it is in (SIGKILL for those that do not exit on SIGTERM within 5 s). */
export async function stopAll(processes: readonly { process: ChildProcess; exited: Promise<void> }[]): Promise<void> {
  await Promise.all(
    processes.map(async (p) => {
      if (p.process.exitCode !== null || p.process.signalCode !== null) return;
      p.process.kill("SIGTERM");
      const timer = setTimeout(() => p.process.kill("SIGKILL"), 5_000);
      await p.exited;
      clearTimeout(timer);
    }),
  );
}

/** A node:cluster tally server (examples/cluster/dist/cluster.js). */
export interface TallyCluster {
  readonly process: ChildProcess;
  readonly port: number;
  /** stdout lines so far. */
  readonly lines: string[];
  readonly exited: Promise<void>;
  /** Rolling restart (SIGHUP); resolves when the primary reports it done. */
  restart(): Promise<void>;
  /** SIGTERM and wait for the exit. */
  stop(): Promise<void>;
}

export async function startTallyCluster(workers: number, graceMs = 10_000): Promise<TallyCluster> {
  const { child, where, lines, exited, stderr } = await startListening(CLUSTER_SCRIPT, [
    "--workers",
    String(workers),
    "--port",
    "0",
    "--grace-ms",
    String(graceMs),
  ]);
  let restarts = 0;
  return {
    process: child,
    port: Number(where.slice(where.lastIndexOf(":") + 1)),
    lines,
    exited,
    restart: async () => {
      const n = ++restarts;
      child.kill("SIGHUP");
      const deadline = Date.now() + 60_000;
      while (!lines.includes(`RESTARTED ${n}`)) {
        if (Date.now() > deadline || child.exitCode !== null) throw new Error(`no RESTARTED ${n}: ${stderr()}`);
        await new Promise((r) => setTimeout(r, 20));
      }
    },
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
      await exited;
    },
  };
}

/** Counts of a load loop: answers per server, and failures by code. */
export interface LoadCounts {
  readonly perServer: Map<string, number>;
  /** The first 1,000 failures. */
  readonly failures: RpcError[];
  ok: number;
  failed: number;
}

const FAILURES_KEPT = 1000;
const loads = new Set<() => Promise<void>>();

/** Stops every load loop still running (for afterEach: a failed test leaves none behind). */
export async function stopAllLoads(): Promise<void> {
  await Promise.all([...loads].map((stop) => stop()));
}

/**
 * Runs `concurrency` loops of `call` until `stop()`; counts answers per
 * server. A loop whose call failed yields to the event loop before the next
 * one, so calls that fail at once cannot starve timers.
 */
export function runLoad(
  concurrency: number,
  call: (n: number) => Promise<{ server: string }>,
): { counts: LoadCounts; stop(): Promise<void> } {
  const counts: LoadCounts = { perServer: new Map(), failures: [], ok: 0, failed: 0 };
  let running = true;
  let n = 0;
  const loops = Array.from({ length: concurrency }, async () => {
    while (running) {
      try {
        const { server } = await call(n++);
        counts.ok++;
        counts.perServer.set(server, (counts.perServer.get(server) ?? 0) + 1);
      } catch (e) {
        counts.failed++;
        if (counts.failures.length < FAILURES_KEPT) counts.failures.push(e as RpcError);
        await new Promise((r) => setImmediate(r));
      }
    }
  });
  const stop = async () => {
    running = false;
    loads.delete(stop);
    await Promise.all(loops);
  };
  loads.add(stop);
  return { counts, stop };
}

/** Runs exactly `total` calls, `concurrency` at a time; counts answers per server. */
export async function runCalls(total: number, concurrency: number, call: (n: number) => Promise<{ server: string }>): Promise<LoadCounts> {
  const counts: LoadCounts = { perServer: new Map(), failures: [], ok: 0, failed: 0 };
  let n = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (n < total) {
        const i = n++;
        try {
          const { server } = await call(i);
          counts.ok++;
          counts.perServer.set(server, (counts.perServer.get(server) ?? 0) + 1);
        } catch (e) {
          counts.failed++;
          if (counts.failures.length < FAILURES_KEPT) counts.failures.push(e as RpcError);
        }
      }
    }),
  );
  return counts;
}
