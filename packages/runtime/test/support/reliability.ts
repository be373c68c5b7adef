/**
 * Helpers of the reliability tests (reliability-*.test.ts): a probed echo
 * service that counts handlers per peer, process-error traps, memory
 * sampling, child processes, hand-made envelopes and /proc readers.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { createInterface } from "node:readline";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { type Code, createServer, RpcError, type Server, type ServerOptions, type ServiceImpl } from "../../src/index.js";
import type { EchoService } from "@protosocket/gen/echo/v1/echo_pb.js";
import { echoDef } from "./services.js";

/** Polls `check` every 5 ms until it holds; throws after `timeoutMs`. */
export async function until(check: () => boolean, what: string | (() => string), timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${typeof what === "string" ? what : what()}`);
    await sleep(5);
  }
}

/** Handler counts of one peer (or of all peers). */
export interface HandlerCounts {
  /** Handlers that began running. */
  started: number;
  /** Handlers whose body finished (returned, threw, or was returned early); each `finally` ran. */
  finished: number;
  /** Handlers that finished with their signal aborted. */
  aborted: number;
  /** Items yielded by Count. */
  yielded: number;
}

/** Observations of the probed echo service, in total and per peer. */
export interface HandlerProbe {
  readonly total: HandlerCounts;
  /** Counts of one peer ("host:port" as the server sees it). */
  of(peer: string): HandlerCounts;
  /** Handlers of `peer` (or of all peers) still running. */
  running(peer?: string): number;
  /** Every peer whose handlers ran. */
  peers(): string[];
}

function counts(): HandlerCounts {
  return { started: 0, finished: 0, aborted: 0, yielded: 0 };
}

/** Creates an empty {@link HandlerProbe}. */
export function createProbe(): HandlerProbe {
  const total = counts();
  const byPeer = new Map<string, HandlerCounts>();
  return {
    total,
    of(peer) {
      let c = byPeer.get(peer);
      if (c === undefined) {
        c = counts();
        byPeer.set(peer, c);
      }
      return c;
    },
    running(peer) {
      const c = peer === undefined ? total : byPeer.get(peer);
      return c === undefined ? 0 : c.started - c.finished;
    },
    peers: () => [...byPeer.keys()],
  };
}

/** Largest payload a probed handler allocates (fuzzed requests ask for anything). */
const MAX_PAYLOAD = 64 * 1024;
/** Longest sleep a probed handler honours. */
const MAX_SLEEP_MS = 60_000;

/**
 * The echo service with a probe: every handler counts its start and (in a
 * `finally`) its end, per peer. Echo with message "sleep:N" waits N ms
 * (aborted by the signal); Count yields `count` items `delayMs` apart; Fail
 * throws the requested code.
 */
export function probedEchoImpl(probe: HandlerProbe): ServiceImpl<typeof EchoService> {
  const begin = (peer: string) => {
    probe.total.started++;
    probe.of(peer).started++;
  };
  const end = (peer: string, signal: AbortSignal) => {
    const p = probe.of(peer);
    if (signal.aborted) {
      probe.total.aborted++;
      p.aborted++;
    }
    probe.total.finished++;
    p.finished++;
  };
  return {
    async echo(req, ctx) {
      begin(ctx.peer);
      try {
        if (req.message.startsWith("sleep:")) {
          const ms = Math.min(Math.max(Number(req.message.slice(6)) || 0, 0), MAX_SLEEP_MS);
          await sleep(ms, undefined, { signal: ctx.signal });
        }
        return { message: req.message, payload: req.payload };
      } finally {
        end(ctx.peer, ctx.signal);
      }
    },
    async *count(req, ctx) {
      begin(ctx.peer);
      try {
        const payload = new Uint8Array(Math.min(req.payloadSize, MAX_PAYLOAD));
        const delay = Math.min(req.delayMs, MAX_SLEEP_MS);
        for (let n = 1; n <= req.count; n++) {
          if (delay > 0) await sleep(delay, undefined, { signal: ctx.signal });
          probe.total.yielded++;
          probe.of(ctx.peer).yielded++;
          yield { n, payload };
        }
      } finally {
        end(ctx.peer, ctx.signal);
      }
    },
    fail(req, ctx) {
      begin(ctx.peer);
      try {
        throw new RpcError(req.code as Code, req.message);
      } finally {
        end(ctx.peer, ctx.signal);
      }
    },
  };
}

/** Connection errors the server reported, with the peer each concerned. */
export interface ConnectionErrorLog {
  readonly entries: { peer: string; error: RpcError }[];
  /** Messages reported for `peer`. */
  of(peer: string): string[];
}

/** Starts a probed echo server on 127.0.0.1 (ephemeral port) that logs connection and handler errors. */
export async function startProbedServer(
  options: ServerOptions = {},
  listen: Parameters<Server["listen"]>[0] = {},
): Promise<{ server: Server; port: number; probe: HandlerProbe; connectionErrors: ConnectionErrorLog; handlerErrors: RpcError[] }> {
  const probe = createProbe();
  const entries: { peer: string; error: RpcError }[] = [];
  const handlerErrors: RpcError[] = [];
  const server = createServer({
    ...options,
    onConnectionError: (error, peer) => {
      entries.push({ peer, error });
      options.onConnectionError?.(error, peer);
    },
    onHandlerError: (error, method, peer) => {
      if (handlerErrors.length < 10_000) handlerErrors.push(error);
      options.onHandlerError?.(error, method, peer);
    },
  });
  server.register(echoDef, probedEchoImpl(probe));
  const { port } = await server.listen({ host: "127.0.0.1", port: 0, ...listen });
  const connectionErrors: ConnectionErrorLog = {
    entries,
    of: (peer) => entries.filter((e) => e.peer === peer).map((e) => e.error.message),
  };
  return { server, port, probe, connectionErrors, handlerErrors };
}

/**
 * Records every 'uncaughtException' and 'unhandledRejection' of this
 * process while installed. Node then does not crash on them, so a test can
 * assert that none fired.
 */
export function trapProcessErrors(): { readonly errors: unknown[]; dispose(): void } {
  const errors: unknown[] = [];
  const onError = (e: unknown) => errors.push(e);
  process.on("uncaughtException", onError);
  process.on("unhandledRejection", onError);
  return {
    errors,
    dispose() {
      process.off("uncaughtException", onError);
      process.off("unhandledRejection", onError);
    },
  };
}

/** A memory snapshot in MiB. */
export interface MemorySample {
  rss: number;
  heapUsed: number;
  external: number;
  arrayBuffers: number;
}

const MiB = 1024 * 1024;

/** This process's memory now, in MiB. */
export function memory(): MemorySample {
  const m = process.memoryUsage();
  return { rss: m.rss / MiB, heapUsed: m.heapUsed / MiB, external: m.external / MiB, arrayBuffers: m.arrayBuffers / MiB };
}

/** Samples memory (and an optional gauge) every `everyMs` and keeps the peaks. */
export function sampleMemory(
  everyMs = 50,
  gauge?: () => number,
): { readonly peak: MemorySample & { gauge: number }; stop(): MemorySample & { gauge: number } } {
  const peak = { ...memory(), gauge: gauge?.() ?? 0 };
  const take = () => {
    const m = memory();
    peak.rss = Math.max(peak.rss, m.rss);
    peak.heapUsed = Math.max(peak.heapUsed, m.heapUsed);
    peak.external = Math.max(peak.external, m.external);
    peak.arrayBuffers = Math.max(peak.arrayBuffers, m.arrayBuffers);
    if (gauge !== undefined) peak.gauge = Math.max(peak.gauge, gauge());
  };
  const timer = setInterval(take, everyMs);
  return {
    peak,
    stop() {
      take();
      clearInterval(timer);
      return peak;
    },
  };
}

let gcFn: (() => void) | undefined;

/**
 * Runs a full garbage collection (exposing `gc` on first use) and returns
 * what is still held, in MiB: JS heap plus ArrayBuffers (where frames live).
 */
export function retainedMemory(): number {
  if (gcFn === undefined) {
    setFlagsFromString("--expose-gc");
    gcFn = runInNewContext("gc") as () => void;
  }
  gcFn();
  const m = process.memoryUsage();
  return (m.heapUsed + m.arrayBuffers) / MiB;
}

/** Formats MiB. */
export function mib(n: number): string {
  return `${n.toFixed(1)} MiB`;
}

/** The soft limit on open files of this process (from /proc/self/limits), or undefined off Linux. */
export function openFileLimit(): number | undefined {
  try {
    const line = readFileSync("/proc/self/limits", "utf8")
      .split("\n")
      .find((l) => l.startsWith("Max open files"));
    const soft = line?.slice("Max open files".length).trim().split(/\s+/)[0];
    if (soft === undefined) return undefined;
    return soft === "unlimited" ? Number.POSITIVE_INFINITY : Number(soft);
  } catch {
    return undefined;
  }
}

/** Files this process has open now (Linux), or undefined. */
export function openFiles(): number | undefined {
  try {
    return readdirSync("/proc/self/fd").length;
  } catch {
    return undefined;
  }
}

/**
 * The TCP timer of a socket from /proc/net/tcp (Linux): `timer` is 0 when
 * none is armed, 2 for the keepalive timer; `seconds` is how long until it
 * fires. Undefined when the socket is not found (or not on Linux).
 */
export function tcpTimer(localPort: number, remotePort: number): { timer: number; seconds: number } | undefined {
  let text: string;
  try {
    text = readFileSync("/proc/net/tcp", "utf8");
  } catch {
    return undefined;
  }
  const hex = (p: number) => p.toString(16).toUpperCase().padStart(4, "0");
  for (const line of text.split("\n").slice(1)) {
    const cols = line.trim().split(/\s+/);
    // sl local_address rem_address st tx_queue:rx_queue tr:tm->when retrnsmt uid ...
    if (cols.length < 6) continue;
    const local = cols[1]?.split(":")[1];
    const remote = cols[2]?.split(":")[1];
    if (local !== hex(localPort) || remote !== hex(remotePort)) continue;
    const [tr, when] = (cols[5] ?? "00:00000000").split(":");
    // tm->when is in clock ticks (USER_HZ, 100 per second).
    return { timer: parseInt(tr ?? "0", 16), seconds: parseInt(when ?? "0", 16) / 100 };
  }
  return undefined;
}

/** A child process started by {@link startChild}. */
export interface Child {
  readonly process: ChildProcess;
  /** Lines the child printed on stdout so far. */
  readonly lines: string[];
  /** Resolves with the first stdout line matching `pattern`. */
  waitForLine(pattern: RegExp, timeoutMs?: number): Promise<string>;
  /** Resolves when the child has exited. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** What it wrote on stderr. */
  stderr(): string;
}

/** Runs `node <script> ...args` from this directory (test/support), with stdout read line by line. */
export function startChild(script: string, args: string[] = [], env: NodeJS.ProcessEnv = {}): Child {
  const path = fileURLToPath(new URL(script, import.meta.url));
  const proc = spawn(process.execPath, [path, ...args], { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, ...env } });
  const lines: string[] = [];
  let err = "";
  let waiters: { pattern: RegExp; resolve: (l: string) => void }[] = [];
  proc.stderr?.on("data", (d: Buffer) => (err += d.toString()));
  createInterface({ input: proc.stdout! }).on("line", (line) => {
    lines.push(line);
    waiters = waiters.filter((w) => {
      if (!w.pattern.test(line)) return true;
      w.resolve(line);
      return false;
    });
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    proc.once("exit", (code, signal) => resolve({ code, signal })),
  );
  return {
    process: proc,
    lines,
    exited,
    stderr: () => err,
    waitForLine(pattern, timeoutMs = 15_000) {
      const seen = lines.find((l) => pattern.test(l));
      if (seen !== undefined) return Promise.resolve(seen);
      return new Promise<string>((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`child ${script} printed no line matching ${pattern} within ${timeoutMs} ms; stderr: ${err}`)),
          timeoutMs,
        );
        void exited.then(({ code, signal }) => {
          clearTimeout(timer);
          reject(new Error(`child ${script} exited (code ${code}, signal ${signal}) before printing ${pattern}; stderr: ${err}`));
        });
        waiters.push({
          pattern,
          resolve: (l) => {
            clearTimeout(timer);
            resolve(l);
          },
        });
      });
    },
  };
}

/**
 * Protobuf bytes written by hand, so a test can send envelopes no codec
 * would produce (ids up to 2^64−1, any control code, unknown or mistyped
 * body fields).
 */
export const pb = {
  varint(value: bigint): number[] {
    const out: number[] = [];
    let v = BigInt.asUintN(64, value);
    while (v >= 0x80n) {
      out.push(Number(v & 0x7fn) | 0x80);
      v >>= 7n;
    }
    out.push(Number(v));
    return out;
  },
  /** A varint field. */
  uint(field: number, value: bigint | number): number[] {
    return [...pb.varint(BigInt(field << 3)), ...pb.varint(BigInt(value))];
  },
  /** A length-delimited field. */
  bytes(field: number, value: Uint8Array | number[]): number[] {
    return [...pb.varint(BigInt((field << 3) | 2)), ...pb.varint(BigInt(value.length)), ...value];
  },
  /** A string field. */
  string(field: number, value: string): number[] {
    return pb.bytes(field, [...new TextEncoder().encode(value)]);
  },
  /** A frame: the minimal varint length prefix, then `body`. */
  frame(body: number[] | Uint8Array): Uint8Array {
    return new Uint8Array([...pb.varint(BigInt(body.length)), ...body]);
  },
};

/**
 * Resolves when `socket` closes, whatever the reason (unlike `once(socket,
 * "close")`, which rejects when an 'error' comes first).
 */
export function whenClosed(socket: { once(event: "close", f: () => void): unknown; destroyed: boolean; closed?: boolean }): Promise<void> {
  if (socket.closed === true) return Promise.resolve();
  return new Promise((resolve) => socket.once("close", () => resolve()));
}

/** Waits `ms` milliseconds. */
export { sleep };
