/**
 * The subsetting algorithms we compared, as pure functions of (client,
 * servers): the pool's own (rendezvous ranking, with or without the
 * balancing weights), the SRE book's deterministic subsetting, and
 * Finagle's deterministic aperture; wider random subsets stand for an
 * aperture that widens with load. Each client's expected share of its
 * calls per server gives every server's expected load; one server leaving
 * and one joining give the churn. docs/decisions.md has the table.
 */
import type { TcpEndpoint } from "../src/pool/endpoint.js";
import { resolvedSet } from "../src/pool/resolved-set.js";
import { clientHash, planSubsets, topServers, type SubsetSettings } from "../src/pool/subset.js";
import { serverEndpoint } from "./fleet.js";
import { seededRandom } from "./virtual-clock.js";

/** A client's subset: server keys and the share of its calls each gets. */
type Subsets = { keys: string[]; shares: number[] }[];

export interface Strategy {
  readonly name: string;
  /** Every client's subset for these servers. */
  subsets(servers: readonly TcpEndpoint[], clients: number, size: number): Subsets;
}

const keyOf = (e: TcpEndpoint) => `${e.host}:${e.port}`;

/** The pool's: top `size` by rendezvous; with the balancing weights when clients know their index. */
export function rendezvous(balanced: boolean, sizeFactor = 1): Strategy {
  return {
    name: balanced ? "rendezvous + balancing weights (index)" : `rendezvous, id only${sizeFactor > 1 ? `, ${sizeFactor}× the size` : ""}`,
    subsets(servers, clients, size) {
      const set = resolvedSet(servers);
      const k = size * sizeFactor;
      const settings: SubsetSettings = { size: k, minServers: 0, clientIndex: 0, clientCount: clients, client: clientHash(0) };
      const plan = balanced ? planSubsets(set, settings) : { size: k, weights: undefined };
      const out: Subsets = [];
      const scratch = new Float64Array(set.servers.length);
      for (let c = 0; c < clients; c++) {
        const top = topServers(clientHash(balanced ? c : `client-${c}`), set, plan.size, scratch);
        const weights = [...top].map((i) => plan.weights?.[i] ?? 1);
        const sum = weights.reduce((a, b) => a + b, 0);
        out.push({ keys: [...top].map((i) => set.servers[i]?.key as string), shares: weights.map((w) => w / sum) });
      }
      return out;
    },
  };
}

/**
 * "Load Balancing in the Datacenter" (the SRE book): clients in rounds of
 * servers/size; each round shuffles the sorted servers with the round as
 * the seed; client i takes slice i mod (servers/size).
 */
export const deterministicSubsetting: Strategy = {
  name: "deterministic subsetting (SRE book, index)",
  subsets(servers, clients, size) {
    const sorted = servers.map(keyOf).sort();
    const perRound = Math.max(1, Math.floor(sorted.length / size));
    const out: Subsets = [];
    for (let c = 0; c < clients; c++) {
      const round = Math.floor(c / perRound);
      const random = seededRandom(round + 1);
      const list = [...sorted];
      for (let i = list.length - 1; i > 0; i--) {
        const j = Math.floor(random() * (i + 1));
        [list[i], list[j]] = [list[j] as string, list[i] as string];
      }
      const start = (c % perRound) * size;
      const keys = list.slice(start, start + size);
      out.push({ keys, shares: keys.map(() => 1 / keys.length) });
    }
    return out;
  },
};

/**
 * Finagle's deterministic aperture: servers in sorted order on a ring at
 * i/n, client i of c at i/c with a window of size/n; it connects to every
 * server its window overlaps, each weighted by the overlap.
 */
export const deterministicAperture: Strategy = {
  name: "deterministic aperture (Finagle, index + count)",
  subsets(servers, clients, size) {
    const sorted = servers.map(keyOf).sort();
    const n = sorted.length;
    const width = Math.max(size / n, 1 / clients);
    const out: Subsets = [];
    for (let c = 0; c < clients; c++) {
      const start = (c / clients) * n;
      const end = start + width * n;
      const keys: string[] = [];
      const shares: number[] = [];
      for (let u = Math.floor(start); u < Math.ceil(end - 1e-9); u++) {
        const overlap = Math.min(u + 1, end) - Math.max(u, start);
        if (overlap <= 1e-9) continue;
        keys.push(sorted[u % n] as string);
        shares.push(overlap / (end - start));
      }
      out.push({ keys, shares });
    }
    return out;
  },
};

export interface StrategyResult {
  readonly name: string;
  readonly connectionsPerClientMax: number;
  readonly connectionsPerServer: { min: number; max: number };
  /** Expected load per server over the mean. */
  readonly load: { min: number; max: number };
  /** Fraction of the connections closed, and opened, when one server leaves; then when one joins. */
  readonly leave: { closed: number; opened: number };
  readonly join: { closed: number; opened: number };
}

function churn(before: Subsets, after: Subsets): { closed: number; opened: number } {
  let total = 0;
  let closed = 0;
  let opened = 0;
  for (const [i, b] of before.entries()) {
    const a = new Set((after[i] as { keys: string[] }).keys);
    const old = new Set(b.keys);
    total += old.size;
    for (const k of old) if (!a.has(k)) closed++;
    for (const k of a) if (!old.has(k)) opened++;
  }
  return { closed: closed / total, opened: opened / total };
}

/** Steady-state balance and churn of `strategy` for a fleet of `clients` × `servers`. */
export function compare(strategy: Strategy, clients: number, servers: number, size: number): StrategyResult {
  const list = Array.from({ length: servers }, (_, i) => serverEndpoint(i));
  const base = strategy.subsets(list, clients, size);
  const conns = new Map<string, number>();
  const load = new Map<string, number>();
  for (const e of list) {
    conns.set(keyOf(e), 0);
    load.set(keyOf(e), 0);
  }
  for (const s of base) {
    for (const [j, k] of s.keys.entries()) {
      conns.set(k, (conns.get(k) ?? 0) + 1);
      load.set(k, (load.get(k) ?? 0) + (s.shares[j] as number));
    }
  }
  const loads = [...load.values()];
  const mean = loads.reduce((a, b) => a + b, 0) / loads.length;
  const c = [...conns.values()];
  const leaving = list[Math.floor(servers / 3)] as TcpEndpoint;
  return {
    name: strategy.name,
    connectionsPerClientMax: Math.max(...base.map((s) => s.keys.length)),
    connectionsPerServer: { min: Math.min(...c), max: Math.max(...c) },
    load: { min: Math.min(...loads) / mean, max: Math.max(...loads) / mean },
    leave: churn(
      base,
      strategy.subsets(
        list.filter((e) => e !== leaving),
        clients,
        size,
      ),
    ),
    join: churn(base, strategy.subsets([...list, serverEndpoint(servers)], clients, size)),
  };
}

/** The strategies docs/decisions.md compares, in its order. */
export const STRATEGIES: readonly Strategy[] = [
  rendezvous(true),
  rendezvous(false),
  rendezvous(false, 2.5),
  rendezvous(false, 5),
  deterministicSubsetting,
  deterministicAperture,
];
