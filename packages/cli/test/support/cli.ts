/**
 * Running `protosocket` in tests: as a real process (the built bin, for exit
 * codes, stdin, TTY-less output and SIGINT), or in-process through runCli
 * (for the many usage and schema errors, without a process each).
 */
import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { dirname, join, resolve } from "node:path";
import { Readable } from "node:stream";
import { fileURLToPath } from "node:url";
import { runCli } from "../../src/main.js";
import type { CliIo } from "../../src/io.js";

/** The repository root. */
export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "../../../..");
/** The built bin (npm test builds before it runs vitest). */
export const bin = join(repoRoot, "packages/cli/bin/protosocket");
/** The fixture protos' root. */
export const fixtureRoot = join(repoRoot, "packages/cli/test/fixtures/proto");
/** `--proto` flags for the echo example's schema. */
export const echoSchema = ["--proto", join(repoRoot, "proto/echo/v1/echo.proto")];
/** `--proto` flags for the interop (Rust-style envelopes) schema. */
export const interopSchema = ["--proto", join(repoRoot, "proto/interop/v1/interop_service.proto")];
/** `--proto` flags for the fixtures (health, shapes). */
export const fixtureSchema = ["-I", fixtureRoot, "--proto", "clitest/v1/shapes.proto"];

/** How a run ended. */
export interface CliRun {
  /** The exit code (null when killed by a signal). */
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Options of {@link runProtosocket}. */
export interface RunOptions {
  /** Written to stdin, then closed; without it stdin is /dev/null. */
  readonly stdin?: string;
  readonly cwd?: string;
  /** Killed after this long (a test failing, never a measurement). */
  readonly killAfterMs?: number;
}

/** Runs the built `protosocket` bin to its end. */
export function runProtosocket(args: readonly string[], options: RunOptions = {}): Promise<CliRun> {
  const child = spawn(process.execPath, [bin, ...args], {
    cwd: options.cwd ?? repoRoot,
    stdio: [options.stdin === undefined ? "ignore" : "pipe", "pipe", "pipe"],
  });
  if (options.stdin !== undefined) child.stdin?.end(options.stdin);
  return collect(child as ChildProcessWithoutNullStreams, options.killAfterMs ?? 30_000);
}

/** A `protosocket` process still running. */
export interface RunningCli {
  readonly child: ChildProcessWithoutNullStreams;
  /** What it has printed on stdout so far. */
  stdout(): string;
  /** Resolves when it exits. */
  readonly done: Promise<CliRun>;
}

/** Starts the built `protosocket` bin (stdin ignored) without waiting for it. */
export function startProtosocket(args: readonly string[]): RunningCli {
  const child = spawn(process.execPath, [bin, ...args], {
    cwd: repoRoot,
    stdio: ["ignore", "pipe", "pipe"],
  }) as unknown as ChildProcessWithoutNullStreams;
  let out = "";
  child.stdout.on("data", (d: Buffer) => (out += d.toString("utf8")));
  const done = collect(child, 30_000);
  return { child, stdout: () => out, done };
}

function collect(child: ChildProcessWithoutNullStreams, killAfterMs: number): Promise<CliRun> {
  let stdout = "";
  let stderr = "";
  child.stdout.setEncoding("utf8");
  child.stderr.setEncoding("utf8");
  child.stdout.on("data", (d: string) => (stdout += d));
  child.stderr.on("data", (d: string) => (stderr += d));
  return new Promise<CliRun>((resolvePromise, reject) => {
    const timer = setTimeout(() => child.kill("SIGKILL"), killAfterMs);
    child.once("error", (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.once("close", (code) => {
      clearTimeout(timer);
      resolvePromise({ code, stdout, stderr });
    });
  });
}

/** Runs the CLI in this process with captured streams (stdin empty, not a terminal). */
export async function runInProcess(
  args: readonly string[],
  options: { stdin?: string; cwd?: string; tty?: boolean } = {},
): Promise<CliRun> {
  let stdout = "";
  let stderr = "";
  const io: CliIo = {
    stdout: { write: (s: string) => (stdout += s), isTTY: options.tty === true },
    stderr: { write: (s: string) => (stderr += s), isTTY: options.tty === true, columns: 120 },
    stdin: Object.assign(Readable.from(options.stdin === undefined ? [] : [options.stdin]), { isTTY: options.tty === true }),
    cwd: options.cwd ?? repoRoot,
    onInterrupt: () => () => {},
  };
  const code = await runCli(args, io);
  return { code, stdout, stderr };
}

/** Parses JSON Lines output. */
export function jsonLines(text: string): unknown[] {
  return text
    .split("\n")
    .filter((l) => l.trim() !== "")
    .map((l) => JSON.parse(l) as unknown);
}
