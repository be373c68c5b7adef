// The Rust protosocket-rpc crates as systems (interop/rust, bins bench-server and
// bench-loadgen; src/bench.rs there): the same envelopes and messages as ours, so our
// server can be compared with theirs under the same client.
//
//   rust-server   our client (as `protosocket`) → the Rust server
//   rust-client   the Rust load generator → our server (as `protosocket`)
//   rust          the Rust load generator → the Rust server
//
// Build them first: `(cd interop/rust && cargo build --release --locked)`. They are looked
// for in $BENCH_RUST_BIN, $INTEROP_RUST_BIN, $CARGO_TARGET_DIR/release,
// ~/.cache/protosocket-ts/interop-target/release (the target directory .ci/run uses) and
// interop/rust/target/release; without them these systems are skipped.

import { existsSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { BenchServer, Program, System } from "../system.js";
import { connectProtosocket, protosocketAvailable, serveProtosocket } from "./protosocket.js";

const repo = fileURLToPath(new URL("../../../", import.meta.url));

function binDir(): string | undefined {
  const candidates = [
    process.env.BENCH_RUST_BIN,
    process.env.INTEROP_RUST_BIN,
    process.env.CARGO_TARGET_DIR === undefined ? undefined : join(process.env.CARGO_TARGET_DIR, "release"),
    join(homedir(), ".cache/protosocket-ts/interop-target/release"),
    join(repo, "interop/rust/target/release"),
  ];
  return candidates.find((d) => d !== undefined && existsSync(join(d, "bench-server")) && existsSync(join(d, "bench-loadgen")));
}

const program = (name: string) => (): Program => ({ command: join(binDir() ?? "", name), args: [] });

async function rustAvailable(): Promise<string | undefined> {
  if (binDir() === undefined) return "not built: run (cd interop/rust && cargo build --release --locked)";
  return undefined;
}

async function bothAvailable(): Promise<string | undefined> {
  return (await rustAvailable()) ?? (await protosocketAvailable());
}

function notInNode(): Promise<BenchServer> {
  return Promise.reject(new Error("this system's server is the Rust bench-server"));
}

const RUST_CLIENT_UNSUPPORTED = { "connect-rate": "the Rust load generator opens one connection" } as const;

export const rustServer: System = {
  name: "rust-server",
  description: "our client (one connection) against the Rust protosocket-rpc 2.0.2 server (interop/rust bench-server, one thread)",
  server: "rust",
  serverCommand: program("bench-server"),
  available: bothAvailable,
  serve: notInNode,
  connect: connectProtosocket(1),
};

export const rustClient: System = {
  name: "rust-client",
  description: "the Rust protosocket-rpc 2.0.2 client (interop/rust bench-loadgen, one connection, one thread) against our server",
  server: "protosocket",
  loadgenCommand: program("bench-loadgen"),
  unsupported: RUST_CLIENT_UNSUPPORTED,
  available: bothAvailable,
  serve: serveProtosocket,
  connect: () => Promise.reject(new Error("this system's client is the Rust bench-loadgen")),
};

export const rust: System = {
  name: "rust",
  description: "the Rust protosocket-rpc 2.0.2 client against the Rust server (both interop/rust, one thread each)",
  server: "rust",
  serverCommand: program("bench-server"),
  loadgenCommand: program("bench-loadgen"),
  unsupported: RUST_CLIENT_UNSUPPORTED,
  available: rustAvailable,
  serve: notInNode,
  connect: () => Promise.reject(new Error("this system's client is the Rust bench-loadgen")),
};
