import { endpointKey, endpointWeight, type Endpoint } from "./endpoint.js";
import type { RankedServer } from "./pickers.js";
import { hashString, type Hash64 } from "./rendezvous.js";

/** One server of a resolver's answer. */
export interface ResolvedServer extends RankedServer {
  /** "host:port" or "unix:/path". */
  readonly key: string;
  readonly endpoint: Endpoint;
  readonly hash: Hash64;
  /** Its weight as resolved (SRV), 0 made a small share. */
  readonly weight: number;
}

/** A resolver's answer, each server once (the first of duplicates), with what rendezvous hashing needs. */
export interface ResolvedSet {
  readonly servers: readonly ResolvedServer[];
  /** Index in {@link servers} by key. */
  readonly index: ReadonlyMap<string, number>;
  /** True when every server has the same weight. */
  readonly uniform: boolean;
}

/** Answers already hashed: a simulation hands one array to every client it runs, hashed once. */
const seen = new WeakMap<readonly Endpoint[], ResolvedSet>();

/** The servers of a resolver's (checked) answer, deduplicated by key, in the answer's order. */
export function resolvedSet(endpoints: readonly Endpoint[]): ResolvedSet {
  const known = seen.get(endpoints);
  if (known !== undefined) return known;
  const servers: ResolvedServer[] = [];
  const index = new Map<string, number>();
  for (const endpoint of endpoints) {
    const key = endpointKey(endpoint);
    if (index.has(key)) continue;
    index.set(key, servers.length);
    servers.push({ key, endpoint, hash: hashString(key), weight: endpointWeight(endpoint) });
  }
  const first = servers[0]?.weight;
  const set: ResolvedSet = { servers, index, uniform: servers.every((s) => s.weight === first) };
  seen.set(endpoints, set);
  return set;
}
