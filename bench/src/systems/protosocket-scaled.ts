// ============================================================================
//  protosocket-ts beyond one connection: a pool, several server processes, a
//  node:cluster server. Compare each with `protosocket` (one connection, one
//  server process): the ×protosocket column.
// ============================================================================
//
//   protosocket-pool4    createPool("127.0.0.1:port", { connectionsPerAddress: 4 }), one server
//   protosocket-3proc    three server processes on 127.0.0.1, .2 and .3 (one port), a pool of
//                        one connection to each (servers/protosocket-3proc.ts)
//   protosocket-cluster  a 2-worker node:cluster server (servers/protosocket-cluster.ts), a pool
//                        of 4 connections to its one port (the primary hands them to both workers)
//
// Server CPU and RSS are those of the server process and its children (child.ts sums the
// process tree), so the 3-process and cluster rows count every server process. The servers
// and clients are those of protosocket.ts (every message set); only the transport differs.

import { spawn, type ChildProcess } from "node:child_process";
import { createInterface } from "node:readline";
import { createPool } from "@protosocket/runtime";
import type { MessageSet } from "../messages.js";
import type { BenchClient, BenchServer, ConnectOptions, System } from "../system.js";
import { clientOver, serveProtosocketAt } from "./protosocket.js";

// ---- servers -----------------------------------------------------------------------

/** A child running servers/protosocket-at.js on host:port; resolves once it listens. */
function startAt(host: string, port: number, set: MessageSet): Promise<{ child: ChildProcess; port: number }> {
  const script = new URL("../servers/protosocket-at.js", import.meta.url).pathname;
  const child = spawn(process.execPath, [script, "--host", host, "--port", String(port), "--set", set], {
    stdio: ["pipe", "pipe", "inherit"],
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no server on ${host} within 20 s`)), 20_000);
    createInterface({ input: child.stdout! }).on("line", (line) => {
      if (!line.startsWith("LISTENING ")) return;
      clearTimeout(timer);
      resolve({ child, port: Number(line.slice("LISTENING ".length)) });
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`server on ${host} exited (${code}) before listening`));
    });
  });
}

function stop(child: ChildProcess): Promise<void> {
  return new Promise<void>((resolve) => {
    if (child.exitCode !== null) return resolve();
    child.once("exit", () => resolve());
    child.stdin?.end();
  });
}

/** Three server processes on 127.0.0.1, .2 and .3, on one port. */
async function serveThree(port: number, set: MessageSet): Promise<BenchServer> {
  for (let attempt = 0; ; attempt++) {
    const first = await startAt("127.0.0.1", port, set);
    try {
      const rest = await Promise.all(["127.0.0.2", "127.0.0.3"].map((h) => startAt(h, first.port, set)));
      const all = [first, ...rest];
      return { port: first.port, close: async () => void (await Promise.all(all.map(({ child }) => stop(child)))) };
    } catch (error) {
      // The port was taken on another loopback address: try another one.
      first.child.kill();
      if (attempt >= 5 || port !== 0) throw error;
    }
  }
}

// ---- clients -----------------------------------------------------------------------

/** A client over one pool of `connectionsPerAddress` connections to each of `targets`, all connected before it resolves. */
function poolOf(targets: (options: ConnectOptions) => string[], connectionsPerAddress: number) {
  return async (options: ConnectOptions): Promise<BenchClient> => {
    const pool = createPool(targets(options), { connectionsPerAddress });
    const want = connectionsPerAddress * targets(options).length;
    const connected = () => pool.stats.addresses.reduce((n, a) => n + a.connections, 0);
    // whenReady() starts every connection and resolves with the first; the load starts once all are up.
    const allUp = new Promise<void>((resolve) => {
      const unsubscribe = pool.subscribe(() => {
        if (connected() < want) return;
        unsubscribe();
        resolve();
      });
    });
    await pool.whenReady({ timeoutMs: 20_000 });
    if (connected() < want) await allUp;
    return clientOver([pool]);
  };
}

const unsupported = {
  stream: "one stream uses one connection: see protosocket",
  "connect-rate": "see protosocket",
  "client-stream": "one stream uses one connection: see protosocket",
  "bidi-pingpong": "one stream uses one connection: see protosocket",
} as const;

export const protosocketPool4: System = {
  name: "protosocket-pool4",
  description: "protosocket-ts, createPool with 4 connections to one server",
  server: "protosocket",
  unsupported,
  serve: (port, set) => serveProtosocketAt("127.0.0.1", port, set),
  connect: poolOf((o) => [`${o.host}:${o.port}`], 4),
};

export const protosocket3proc: System = {
  name: "protosocket-3proc",
  description: "protosocket-ts, 3 server processes (127.0.0.1, .2, .3), a pool of one connection to each",
  server: "protosocket-3proc",
  unsupported,
  serve: serveThree,
  connect: poolOf((o) => ["127.0.0.1", "127.0.0.2", "127.0.0.3"].map((h) => `${h}:${o.port}`), 1),
};

export const protosocketCluster: System = {
  name: "protosocket-cluster",
  description: "protosocket-ts, a 2-worker node:cluster server, a pool of 4 connections to it",
  server: "protosocket-cluster",
  unsupported,
  // servers/protosocket-cluster.ts forks the workers; this runs in each worker.
  serve: (port, set) => serveProtosocketAt("127.0.0.1", port, set),
  connect: poolOf((o) => [`${o.host}:${o.port}`], 4),
};
