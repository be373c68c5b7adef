/**
 * Servers the CLI tests call: the echo example (its own process, as a user
 * runs it), the Rust interop server (interop/rust), and an in-process server
 * of the fixture schema (health and shapes) whose handlers report what they saw.
 */
import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { accessSync, constants } from "node:fs";
import { createServer as createNetServer } from "node:net";
import { join } from "node:path";
import { Code, createServer, RpcError, type Server } from "@protosocket/runtime";
import { loadSchema } from "../../src/schema/load-schema.js";
import { fixtureRoot, repoRoot } from "./cli.js";

/** A server in another process. */
export interface ServerProcess {
  readonly port: number;
  /** Stops it and waits for it to exit. */
  stop(): Promise<void>;
}

/** The self-signed certificate for "localhost" / 127.0.0.1 the interop suite uses. */
export const testCert = {
  certPath: join(repoRoot, "interop/certs/localhost.crt"),
  keyPath: join(repoRoot, "interop/certs/localhost.key"),
};

function waitListening(child: ChildProcessWithoutNullStreams, name: string, stop: () => Promise<void>): Promise<ServerProcess> {
  let out = "";
  let err = "";
  child.stderr.setEncoding("utf8");
  child.stderr.on("data", (d: string) => (err += d));
  return new Promise<ServerProcess>((resolvePromise, reject) => {
    const timer = setTimeout(() => fail(new Error(`${name} did not print LISTENING within 15 s`)), 15_000);
    const fail = (e: Error) => {
      clearTimeout(timer);
      child.kill("SIGKILL");
      reject(new Error(`${e.message}; stderr: ${err}`));
    };
    const onExit = (code: number | null) => fail(new Error(`${name} exited (${code}) before listening`));
    child.once("exit", onExit);
    child.once("error", fail);
    child.stdout.setEncoding("utf8");
    child.stdout.on("data", (d: string) => {
      out += d;
      const m = /LISTENING \S+:(\d+)/.exec(out);
      if (m === null) return;
      clearTimeout(timer);
      child.off("exit", onExit);
      resolvePromise({ port: Number(m[1]), stop });
    });
  });
}

function stopper(child: ChildProcessWithoutNullStreams, how: () => void): () => Promise<void> {
  const exited = new Promise<void>((r) => child.once("exit", () => r()));
  return async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    how();
    const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
    await exited;
    clearTimeout(timer);
  };
}

/** Starts examples/echo's server (built by npm test) on a free port, optionally with TLS. */
export function startEchoServer(options: { tls?: boolean } = {}): Promise<ServerProcess> {
  const args = [join(repoRoot, "examples/echo/dist/server.js"), "--host", "127.0.0.1", "--port", "0"];
  if (options.tls === true) args.push("--tls-cert", testCert.certPath, "--tls-key", testCert.keyPath);
  const child = spawn(process.execPath, args, { stdio: ["ignore", "pipe", "pipe"] }) as unknown as ChildProcessWithoutNullStreams;
  return waitListening(
    child,
    "echo server",
    stopper(child, () => child.kill("SIGTERM")),
  );
}

/** Where the Rust interop binaries are: $INTEROP_RUST_BIN, else interop/rust/target/release. */
const rustBinDir = process.env.INTEROP_RUST_BIN ?? join(repoRoot, "interop/rust/target/release");

/**
 * Whether the Rust tests run: in CI (CI set) the binaries are required, so
 * `failure` says what is missing; elsewhere they are skipped.
 */
export function rustServerStatus(): { run: boolean; failure: string | undefined } {
  try {
    accessSync(join(rustBinDir, "interop-server"), constants.X_OK);
    return { run: true, failure: undefined };
  } catch {
    const missing = `${join(rustBinDir, "interop-server")} not found; build it with (cd interop/rust && cargo build --release --locked -j 2) or set INTEROP_RUST_BIN`;
    if (process.env.CI !== undefined && process.env.CI !== "") return { run: false, failure: missing };
    console.warn(`[cli] Rust interop tests skipped: ${missing}`);
    return { run: false, failure: undefined };
  }
}

/** Starts the Rust `interop-server` (it exits when its stdin closes, so it never outlives the tests). */
export function startRustServer(): Promise<ServerProcess> {
  const child = spawn(join(rustBinDir, "interop-server"), ["--addr", "127.0.0.1:0"], { stdio: ["pipe", "pipe", "pipe"] });
  return waitListening(
    child,
    "interop-server",
    stopper(child, () => child.stdin.end()),
  );
}

/** A port nothing listens on (bound, then released). */
export async function closedPort(): Promise<number> {
  const server = createNetServer();
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  const { port } = server.address() as { port: number };
  await new Promise<void>((r) => server.close(() => r()));
  return port;
}

/** What the fixture server's handlers observed. */
export interface FixtureObservations {
  /** Health statuses by service name ("" = the server); unknown services answer not_found. */
  readonly health: Map<string, number>;
  /** Why each Wait/Watch handler's signal aborted (the reason's message), in order. */
  readonly abortReasons: string[];
  /** Wait/Watch handlers that started. */
  waitsStarted: number;
}

/** An in-process server of the fixture schema (clitest.v1.Health and ShapesService), built from descriptors only. */
export async function startFixtureServer(): Promise<{ server: Server; port: number; seen: FixtureObservations }> {
  const schema = await loadSchema({ importPath: [fixtureRoot], proto: ["clitest/v1/shapes.proto"] });
  const seen: FixtureObservations = { health: new Map([["", 1]]), abortReasons: [], waitsStarted: 0 };
  const untilAborted = (signal: AbortSignal) =>
    new Promise<void>((resolveWait) => {
      signal.addEventListener(
        "abort",
        () => {
          seen.abortReasons.push(signal.reason instanceof Error ? signal.reason.message : String(signal.reason));
          resolveWait();
        },
        { once: true },
      );
    });
  const server = createServer();
  server.register(schema.definition(schema.service("clitest.v1.Health")), {
    check(request: { service: string }) {
      const status = seen.health.get(request.service);
      if (status === undefined) throw new RpcError(Code.NotFound, `unknown service "${request.service}"`);
      return { status };
    },
  } as never);
  server.register(schema.definition(schema.service("clitest.v1.ShapesService")), {
    put(request: { items: unknown[] }) {
      return { items: request.items.length };
    },
    async wait(request: { label: string }, ctx: { signal: AbortSignal }) {
      seen.waitsStarted++;
      await untilAborted(ctx.signal);
      return { label: request.label };
    },
    async *watch(request: { label: string }, ctx: { signal: AbortSignal }) {
      seen.waitsStarted++;
      yield { label: request.label };
      await untilAborted(ctx.signal);
    },
  } as never);
  const { port } = await server.listen({ host: "127.0.0.1", port: 0 });
  return { server, port, seen };
}
