/**
 * Finding, starting and driving the Rust interop binaries (interop/rust) from
 * the TypeScript tests.
 */
import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { accessSync, constants, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

/** The repository root. */
export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "../..");

/** Where the binaries are: $INTEROP_RUST_BIN, else interop/rust/target/release. */
export const rustBinDir = process.env.INTEROP_RUST_BIN ?? join(repoRoot, "interop/rust/target/release");

const BUILD_HINT =
  "build them with: (cd interop/rust && cargo build --release --locked -j 2) " +
  "(needs protoc: apt-get install protobuf-compiler libprotobuf-dev), " +
  "or point INTEROP_RUST_BIN at the directory holding interop-server and interop-client; .ci/run does both";

/**
 * Undefined when both binaries are there; otherwise why not and how to build them.
 */
export function rustPeersMissing(names: readonly string[] = ["interop-server", "interop-client"]): string | undefined {
  const missing: string[] = [];
  for (const name of names) {
    try {
      accessSync(join(rustBinDir, name), constants.X_OK);
    } catch {
      missing.push(join(rustBinDir, name));
    }
  }
  if (missing.length === 0) return undefined;
  return `Rust interop binaries not found (${missing.join(", ")}); ${BUILD_HINT}`;
}

/**
 * How a test file reacts to missing binaries: in CI (process.env.CI set)
 * they are required and the suite fails; elsewhere it is skipped with the
 * reason printed.
 */
export function rustPeersStatus(names?: readonly string[]): { run: boolean; failure: string | undefined; skipReason: string | undefined } {
  const missing = rustPeersMissing(names);
  if (missing === undefined) return { run: true, failure: undefined, skipReason: undefined };
  if (process.env.CI !== undefined && process.env.CI !== "") return { run: false, failure: missing, skipReason: undefined };
  console.warn(`[interop] skipped: ${missing}`);
  return { run: false, failure: undefined, skipReason: missing };
}

/** The self-signed test certificate for "localhost" / 127.0.0.1 (interop/certs/README.md). */
export const testCert = {
  certPath: join(repoRoot, "interop/certs/localhost.crt"),
  keyPath: join(repoRoot, "interop/certs/localhost.key"),
  get cert(): string {
    return readFileSync(this.certPath, "utf8");
  },
  get key(): string {
    return readFileSync(this.keyPath, "utf8");
  },
};

/** A running Rust `interop-server`. */
export interface RustServer {
  readonly host: string;
  readonly port: number;
  /** What it wrote on stderr so far. */
  stderr(): string;
  /** Closes its stdin (it exits on EOF) and waits for it to exit; kills it after 5 s. */
  stop(): Promise<void>;
}

/**
 * Starts `interop-server --addr 127.0.0.1:0` with stdin as a pipe (it exits
 * when the pipe closes, so it never outlives the test process) and waits for
 * its `LISTENING ip:port` line.
 */
export function startRustServer(options: { tls?: boolean; binary?: string; args?: string[] } = {}): Promise<RustServer> {
  const args = ["--addr", "127.0.0.1:0", ...(options.args ?? [])];
  if (options.tls === true) args.push("--tls-cert", testCert.certPath, "--tls-key", testCert.keyPath);
  const child = spawn(join(rustBinDir, options.binary ?? "interop-server"), args, { stdio: ["pipe", "pipe", "pipe"] });
  let err = "";
  child.stderr.setEncoding("utf8");
  child.stderr.on("data", (d: string) => (err += d));
  const exited = new Promise<void>((r) => child.once("exit", () => r()));
  return new Promise<RustServer>((resolveStart, rejectStart) => {
    let out = "";
    const timer = setTimeout(() => fail(new Error("interop-server did not print LISTENING within 10 s")), 10_000);
    const fail = (e: Error) => {
      clearTimeout(timer);
      child.kill("SIGKILL");
      rejectStart(new Error(`${e.message}; stderr: ${err}`));
    };
    const onExit = (code: number | null, signal: NodeJS.Signals | null) =>
      fail(new Error(`interop-server exited (${code ?? signal}) before listening`));
    child.once("error", fail);
    child.once("exit", onExit);
    child.stdout.setEncoding("utf8");
    child.stdout.on("data", (d: string) => {
      out += d;
      const m = /^LISTENING (\S+):(\d+)\r?\n/m.exec(out);
      if (m === null) return;
      clearTimeout(timer);
      child.off("exit", onExit);
      child.off("error", fail);
      resolveStart({
        host: m[1] as string,
        port: Number(m[2]),
        stderr: () => err,
        stop: () => stopChild(child, exited),
      });
    });
  });
}

async function stopChild(child: ChildProcessWithoutNullStreams, exited: Promise<void>): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.stdin.end();
  const timer = setTimeout(() => child.kill("SIGKILL"), 5_000);
  await exited;
  clearTimeout(timer);
}

/** The outcome of one `interop-client` run. */
export interface RustClientRun {
  /** Exit status (null when killed). */
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
  /** Scenario name → "PASS" or the failure reason. */
  readonly results: Map<string, string>;
}

/** Runs `interop-client --addr host:port --scenario all [--tls]` to its end (killed after `timeoutMs`). */
export function runRustClient(options: {
  port: number;
  tls?: boolean;
  scenarios?: string[];
  timeoutMs?: number;
  binary?: string;
}): Promise<RustClientRun> {
  const args = ["--addr", `127.0.0.1:${options.port}`];
  if (options.tls === true) args.push("--tls");
  for (const s of options.scenarios ?? ["all"]) args.push("--scenario", s);
  const child = spawn(join(rustBinDir, options.binary ?? "interop-client"), args, { stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout.setEncoding("utf8");
  child.stderr.setEncoding("utf8");
  child.stdout.on("data", (d: string) => (stdout += d));
  child.stderr.on("data", (d: string) => (stderr += d));
  return new Promise<RustClientRun>((resolveRun, rejectRun) => {
    const timer = setTimeout(() => child.kill("SIGKILL"), options.timeoutMs ?? 240_000);
    child.once("error", (e) => {
      clearTimeout(timer);
      rejectRun(e);
    });
    child.once("close", (status) => {
      clearTimeout(timer);
      const results = new Map<string, string>();
      for (const line of stdout.split("\n")) {
        const pass = /^PASS (\S+)$/.exec(line);
        if (pass !== null) results.set(pass[1] as string, "PASS");
        const fail = /^FAIL (\S+): (.*)$/.exec(line);
        if (fail !== null) results.set(fail[1] as string, fail[2] as string);
      }
      resolveRun({ status, stdout, stderr, results });
    });
  });
}

/** The scenarios `interop-client --scenario all` runs, in order (interop/rust/README.md). */
export const RUST_CLIENT_SCENARIOS = [
  "unary",
  "empty",
  "large",
  "concurrent",
  "stream",
  "stream_100k",
  "cancel_stream",
  "cancel_unary",
  "error",
  "reject",
  "stats",
] as const;
