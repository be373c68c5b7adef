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
// process tree), so the 3-process and cluster rows count every server process.
//
// Like protosocket.ts, this module loads @protosocket/runtime at run time (what it needs:
// serviceFromRegistry, createServer, createPool, createClient) and the systems are skipped
// when it cannot.

import { spawn, type ChildProcess } from "node:child_process";
import { createInterface } from "node:readline";
import { createRegistry, type DescService, type Registry } from "@bufbuild/protobuf";
import { file_protosocket_v1_status } from "../gen/protosocket/v1/status_pb.js";
import { EchoService, file_echo_v1_echo, type CountResponse, type EchoResponse } from "../gen/echo/v1/echo_pb.js";
import { ECHO_MESSAGE, type BenchClient, type BenchServer, type ConnectOptions, type System } from "../system.js";

type ServiceDefinition = object;

interface RuntimeServer {
  register(definition: ServiceDefinition, impl: object): void;
  listen(options: { host: string; port: number }): Promise<{ port: number }>;
  close(options?: { graceMs?: number }): Promise<void>;
}

interface Pool {
  close(): void;
}

interface EchoClient {
  echo(request: { message: string; payload: Uint8Array }): Promise<EchoResponse>;
  count(request: { count: number }): AsyncIterable<CountResponse>;
}

interface Runtime {
  serviceFromRegistry(service: DescService, registry: Registry): ServiceDefinition;
  createServer(): RuntimeServer;
  createPool(target: string | string[], options?: { connectionsPerAddress?: number }): Pool;
  createClient(definition: ServiceDefinition, transport: Pool): EchoClient;
}

const RUNTIME_SPECIFIER: string = "@protosocket/runtime";
const EXPECTED_EXPORTS = ["serviceFromRegistry", "createServer", "createPool", "createClient"] as const;

let loaded: Promise<{ runtime: Runtime; definition: ServiceDefinition } | string> | undefined;

function load(): Promise<{ runtime: Runtime; definition: ServiceDefinition } | string> {
  loaded ??= (async () => {
    let module: Record<string, unknown>;
    try {
      const [app, protocol] = (await Promise.all([import(RUNTIME_SPECIFIER), import(`${RUNTIME_SPECIFIER}/protocol`)])) as Record<string, unknown>[];
      module = { ...app, ...protocol };
    } catch (error) {
      return `not yet available: ${RUNTIME_SPECIFIER} cannot be imported (${(error as Error).message.split("\n")[0]})`;
    }
    const missing = EXPECTED_EXPORTS.filter((name) => typeof module[name] !== "function");
    if (missing.length > 0) return `not yet available: ${RUNTIME_SPECIFIER} has no ${missing.join(", ")} (see bench/src/systems/protosocket-scaled.ts)`;
    const runtime = module as unknown as Runtime;
    return { runtime, definition: runtime.serviceFromRegistry(EchoService, createRegistry(file_echo_v1_echo, file_protosocket_v1_status)) };
  })();
  return loaded;
}

async function required(): Promise<{ runtime: Runtime; definition: ServiceDefinition }> {
  const result = await load();
  if (typeof result === "string") throw new Error(result);
  return result;
}

async function available(): Promise<string | undefined> {
  const result = await load();
  return typeof result === "string" ? result : undefined;
}

// ---- servers -----------------------------------------------------------------------

/** The same handlers as every system's (protosocket.ts has them too). */
const impl = {
  echo(request: { message: string; payload: Uint8Array }) {
    return { message: request.message, payload: request.payload };
  },
  async *count(request: { count: number }) {
    for (let n = 1; n <= request.count; n++) yield { n };
  },
  fail(request: { message: string }): never {
    throw new Error(request.message);
  },
};

/** One protosocket echo server in this process, on host:port. */
export async function serveAt(host: string, port: number): Promise<BenchServer> {
  const { runtime, definition } = await required();
  const server = runtime.createServer();
  server.register(definition, impl);
  const address = await server.listen({ host, port });
  return { port: address.port, close: () => server.close({ graceMs: 0 }) };
}

/** A child running servers/protosocket-at.js on host:port; resolves once it listens. */
function startAt(host: string, port: number): Promise<{ child: ChildProcess; port: number }> {
  const child = spawn(process.execPath, [new URL("../servers/protosocket-at.js", import.meta.url).pathname, "--host", host, "--port", String(port)], {
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

/** Three server processes on 127.0.0.1, .2 and .3, on one port. */
async function serveThree(port: number): Promise<BenchServer> {
  for (let attempt = 0; ; attempt++) {
    const first = await startAt("127.0.0.1", port);
    try {
      const rest = await Promise.all(["127.0.0.2", "127.0.0.3"].map((h) => startAt(h, first.port)));
      const all = [first, ...rest];
      return {
        port: first.port,
        close: async () => {
          await Promise.all(
            all.map(
              ({ child }) =>
                new Promise<void>((resolve) => {
                  if (child.exitCode !== null) return resolve();
                  child.once("exit", () => resolve());
                  child.stdin?.end();
                }),
            ),
          );
        },
      };
    } catch (error) {
      // The port was taken on another loopback address: try another one.
      first.child.kill();
      if (attempt >= 5 || port !== 0) throw error;
    }
  }
}

// ---- clients -----------------------------------------------------------------------

class PoolClient implements BenchClient {
  constructor(
    private readonly client: EchoClient,
    private readonly pool: Pool,
  ) {}

  async unary(payload: Uint8Array): Promise<number> {
    const response = await this.client.echo({ message: ECHO_MESSAGE, payload });
    return response.payload.length;
  }

  async stream(count: number): Promise<number> {
    let received = 0;
    for await (const _ of this.client.count({ count })) received++;
    return received;
  }

  async close(): Promise<void> {
    this.pool.close();
  }
}

function poolOf(targets: (options: ConnectOptions) => string[], connectionsPerAddress: number) {
  return async (options: ConnectOptions): Promise<BenchClient> => {
    const { runtime, definition } = await required();
    const pool = runtime.createPool(targets(options), { connectionsPerAddress });
    const client = runtime.createClient(definition, pool);
    // Connected before the load starts: one call per connection opens them all.
    await Promise.all(Array.from({ length: connectionsPerAddress * targets(options).length * 2 }, () => client.echo({ message: ECHO_MESSAGE, payload: new Uint8Array(0) })));
    return new PoolClient(client, pool);
  };
}

const unsupported = {
  stream: "one stream uses one connection: see protosocket",
  "connect-rate": "see protosocket",
} as const;

export const protosocketPool4: System = {
  name: "protosocket-pool4",
  description: "protosocket-ts, createPool with 4 connections to one server",
  server: "protosocket",
  unsupported,
  available,
  serve: (port) => serveAt("127.0.0.1", port),
  connect: poolOf((o) => [`${o.host}:${o.port}`], 4),
};

export const protosocket3proc: System = {
  name: "protosocket-3proc",
  description: "protosocket-ts, 3 server processes (127.0.0.1, .2, .3), a pool of one connection to each",
  server: "protosocket-3proc",
  unsupported,
  available,
  serve: serveThree,
  connect: poolOf((o) => ["127.0.0.1", "127.0.0.2", "127.0.0.3"].map((h) => `${h}:${o.port}`), 1),
};

export const protosocketCluster: System = {
  name: "protosocket-cluster",
  description: "protosocket-ts, a 2-worker node:cluster server, a pool of 4 connections to it",
  server: "protosocket-cluster",
  unsupported,
  available,
  // servers/protosocket-cluster.ts forks the workers; this runs in each worker.
  serve: (port) => serveAt("127.0.0.1", port),
  connect: poolOf((o) => [`${o.host}:${o.port}`], 4),
};
