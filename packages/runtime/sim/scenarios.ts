/**
 * The fleet scenarios: steady state, a rolling restart of every server, a
 * tenth of the servers failing, slow servers, and servers joining and
 * leaving. Each builds a fleet, runs it in virtual time and returns its
 * numbers; main.ts prints them, fleet-sim.test.ts asserts the targets.
 */
import type { TcpEndpoint } from "../src/pool/endpoint.js";
import { createPicker, type Pickable, type PickerName, type ReadySet } from "../src/pool/pickers.js";
import type { PoolOptions } from "../src/pool/pool-options.js";
import { resolvedSet } from "../src/pool/resolved-set.js";
import { Fleet, serverEndpoint, type Identity } from "./fleet.js";
import type { CallStats } from "./sim-client.js";

/** How big a fleet, and how long to measure. */
export interface Scale {
  readonly clients: number;
  readonly servers: number;
  /** Servers per client. Default 20. */
  readonly subsetSize?: number;
  /** Calls per second per server on average (servers serve 400 at most). Default 100. */
  readonly loadPerServer?: number;
  /** Length of the measured window, in simulated seconds. Default 20. */
  readonly seconds?: number;
  readonly seed?: number;
}

const WARM_MS = 3000;

function fleetFor(scale: Scale, identity: Identity, picker: PickerName = "least-outstanding", pool?: PoolOptions): Fleet {
  return new Fleet({
    clients: scale.clients,
    servers: scale.servers,
    identity,
    picker,
    subsetSize: scale.subsetSize ?? 20,
    seed: scale.seed ?? 1,
    ...(pool !== undefined ? { pool } : {}),
  });
}

const rate = (scale: Scale) => (scale.loadPerServer ?? 100) * scale.servers;
const windowMs = (scale: Scale) => (scale.seconds ?? 20) * 1000;

function spread(values: readonly number[]): { mean: number; min: number; max: number } {
  let sum = 0;
  let min = Number.POSITIVE_INFINITY;
  let max = Number.NEGATIVE_INFINITY;
  for (const v of values) {
    sum += v;
    if (v < min) min = v;
    if (v > max) max = v;
  }
  return { mean: values.length > 0 ? sum / values.length : 0, min, max };
}

/** The p-th percentile (0–100) of sorted values. */
export function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number;
}

/** Call outcomes of a measured window. */
export interface CallResult {
  readonly calls: number;
  readonly attemptsPerCall: number;
  readonly failedIdempotent: number;
  readonly failedOther: number;
  readonly retries: number;
  readonly neverRanRetries: number;
  readonly retriesDenied: number;
  readonly waits: number;
  readonly ejections: number;
  readonly p50: number;
  readonly p99: number;
  readonly p999: number;
}

function callResult(s: CallStats): CallResult {
  const sorted = s.latencies.slice(0, s.ok).sort();
  return {
    calls: s.calls,
    attemptsPerCall: s.calls > 0 ? s.attempts / s.calls : 0,
    failedIdempotent: s.failedIdempotent,
    failedOther: s.failedOther,
    retries: s.retries,
    neverRanRetries: s.neverRanRetries,
    retriesDenied: s.retriesDenied,
    waits: s.waits,
    ejections: s.ejections,
    p50: percentile(sorted, 50),
    p99: percentile(sorted, 99),
    p999: percentile(sorted, 99.9),
  };
}

/** Runs a fleet under load through a measured window; `during` may act on it at the window's start. */
function underLoad(fleet: Fleet, scale: Scale, extraMs = 0, during?: (startMs: number) => void): CallStats {
  fleet.start();
  const end = WARM_MS + windowMs(scale) + extraMs;
  fleet.runUntil(WARM_MS / 2);
  fleet.load(rate(scale), end);
  fleet.runUntil(WARM_MS);
  const stats = fleet.measure();
  during?.(WARM_MS);
  fleet.runUntil(end);
  fleet.measure();
  // Let the calls started in the window finish.
  fleet.runUntil(end + 60_000);
  return stats;
}

export interface SteadyResult extends CallResult {
  readonly identity: Identity;
  readonly connectionsPerClient: { mean: number; max: number };
  readonly connectionsPerServer: { mean: number; min: number; max: number };
  /** Each server's attempts in the window over the mean. */
  readonly load: { min: number; max: number };
}

/** Steady state: connections per client and per server, and how evenly the servers are loaded. */
export function steadyState(scale: Scale, identity: Identity = "index"): SteadyResult {
  const fleet = fleetFor(scale, identity);
  let before: number[] = [];
  let perClient: number[] = [];
  let perServer: number[] = [];
  const stats = underLoad(fleet, scale, 0, () => {
    before = fleet.servers.map((s) => s.served);
  });
  // Connections as they were under load (nothing failed: they are the same after).
  perClient = fleet.clients.map((c) => c.connections());
  perServer = fleet.servers.map((s) => s.connections.size);
  const load = spread(fleet.servers.map((s, i) => s.served - (before[i] as number)));
  const conns = spread(perServer);
  const clients = spread(perClient);
  return {
    identity,
    ...callResult(stats),
    connectionsPerClient: { mean: clients.mean, max: clients.max },
    connectionsPerServer: conns,
    load: { min: load.min / load.mean, max: load.max / load.mean },
  };
}

/**
 * A rolling restart of every server: a twentieth of them at a time drain
 * (as close({ graceMs }) does), are down for a second, and come back; the
 * next twentieth two seconds later.
 */
export function rollingRestart(scale: Scale): CallResult & { readonly restarted: number } {
  const fleet = fleetFor(scale, "index");
  const batch = Math.max(1, Math.ceil(fleet.servers.length / 20));
  const batches = Math.ceil(fleet.servers.length / batch);
  const stats = underLoad(fleet, { ...scale, seconds: Math.max(scale.seconds ?? 20, batches * 2 + 4) }, 0, (start) => {
    for (let b = 0; b < batches; b++) {
      fleet.clock.setTimeout(
        () => {
          for (const s of fleet.servers.slice(b * batch, (b + 1) * batch)) s.drain(1000);
        },
        start - fleet.clock.now() + 1000 + b * 2000,
      );
    }
  });
  return { ...callResult(stats), restarted: fleet.servers.length };
}

export type OutageKind = "crash" | "errors" | "errors, ejected on errors";

/**
 * A tenth of the servers fail two seconds into the window and stay down:
 * `crash` (connections cut, refused after), or `errors` (every call fails
 * fast with unavailable, a lost dependency; the last kind with
 * ejection.callErrorCodes so they are ejected).
 */
export function outage(scale: Scale, kind: OutageKind = "crash"): CallResult {
  const pool: PoolOptions | undefined = kind === "errors, ejected on errors" ? { ejection: { callErrorCodes: [14] } } : undefined;
  const fleet = fleetFor(scale, "index", "least-outstanding", pool);
  const failing = Math.round(fleet.servers.length / 10);
  const stats = underLoad(fleet, scale, 0, () => {
    // Two seconds into the window, so the calls they cut were counted in it.
    fleet.clock.setTimeout(() => {
      const chosen = [...fleet.servers].sort(() => fleet.random() - 0.5).slice(0, failing);
      if (kind === "crash") {
        for (const s of chosen) s.cut();
        for (const s of chosen) s.failCalls();
      } else for (const s of chosen) s.failing = true;
    }, 2000);
  });
  return callResult(stats);
}

/**
 * A twentieth of the servers five times slower than the rest (more calls
 * than they can serve, at an even share), under a picker.
 */
export function slowServers(scale: Scale, picker: PickerName): CallResult & { readonly slowShare: number } {
  const fleet = fleetFor(scale, "index", picker);
  const slow = fleet.servers.filter((_, i) => i % 20 === 7);
  for (const s of slow) s.slowdown = 5;
  let before = 0;
  let total = 0;
  const stats = underLoad(fleet, scale, 0, () => {
    before = slow.reduce((n, s) => n + s.served, 0);
    total = fleet.servers.reduce((n, s) => n + s.served, 0);
  });
  const slowServed = slow.reduce((n, s) => n + s.served, 0) - before;
  const allServed = fleet.servers.reduce((n, s) => n + s.served, 0) - total;
  return { ...callResult(stats), slowShare: slowServed / allServed / (slow.length / fleet.servers.length) };
}

/** What one server joining or leaving moves. */
export interface ChurnResult {
  readonly change: "leave" | "join";
  /** Connections before the change. */
  readonly connections: number;
  /** Client→server pairs that went away, and that came. */
  readonly closed: number;
  readonly opened: number;
  readonly keys: number;
  readonly keysMoved: number;
  /** Moved keys that were not the leaving server's (leave), or did not go to the new server (join). */
  readonly keysMovedElsewhere: number;
}

/** Where key-hash sends each key among `endpoints` (the pool's picker, every server up). */
export function keyHomes(endpoints: readonly TcpEndpoint[], keys: readonly string[]): string[] {
  const set = resolvedSet(endpoints);
  const conns = set.servers.map((s) => ({ pending: 0, weight: 1, rrWeight: 0, key: s.key }));
  type Conn = Pickable & { key: string };
  const ready: ReadySet<Conn> = {
    connections: conns,
    servers: set.servers,
    use: (i) => ({ state: "ready", ready: (into) => into.push(conns[i] as Conn) }),
  };
  const picker = createPicker<Conn>("key-hash", () => 0.5);
  return keys.map((key) => (picker.pick(ready, { key, excluded: undefined }) as Conn).key);
}

/**
 * One server leaves the resolver's answer, then one new server joins:
 * which connections and which keys move (every client takes each answer
 * within a second, as clients resolving on their own schedules would).
 */
export function membership(scale: Scale, identity: Identity = "index"): ChurnResult[] {
  const fleet = fleetFor(scale, identity);
  fleet.start();
  fleet.runUntil(WARM_MS);
  const keys = Array.from({ length: 10_000 }, (_, i) => `key-${i}`);
  const results: ChurnResult[] = [];
  const step = (change: "leave" | "join", next: TcpEndpoint[], moved: string) => {
    const before = fleet.clients.map((c) => new Set(c.members()));
    const homesBefore = keyHomes(fleet.endpoints, keys);
    fleet.resolve(next, 1000);
    fleet.runUntil(fleet.clock.now() + 5000);
    const after = fleet.clients.map((c) => new Set(c.members()));
    const homesAfter = keyHomes(next, keys);
    let connections = 0;
    let closed = 0;
    let opened = 0;
    for (const [i, b] of before.entries()) {
      const a = after[i] as Set<string>;
      connections += b.size;
      for (const k of b) if (!a.has(k)) closed++;
      for (const k of a) if (!b.has(k)) opened++;
    }
    let keysMoved = 0;
    let elsewhere = 0;
    for (const [i, home] of homesBefore.entries()) {
      const now = homesAfter[i] as string;
      if (now === home) continue;
      keysMoved++;
      if ((change === "leave" ? home : now) !== moved) elsewhere++;
    }
    results.push({ change, connections, closed, opened, keys: keys.length, keysMoved, keysMovedElsewhere: elsewhere });
  };
  const leaving = fleet.endpoints[Math.floor(fleet.endpoints.length / 3)] as TcpEndpoint;
  step(
    "leave",
    fleet.endpoints.filter((e) => e !== leaving),
    `${leaving.host}:${leaving.port}`,
  );
  const joining = fleet.addServer(fleet.servers.length).endpoint;
  step("join", [...fleet.endpoints, joining], `${joining.host}:${joining.port}`);
  return results;
}

export { serverEndpoint };
