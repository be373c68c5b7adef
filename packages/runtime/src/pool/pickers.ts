/**
 * How a pool chooses a connection for a call. A picker is an object given
 * the ready set and the call; it reads them and returns a connection (or
 * none: the call waits). Pickers hold no timers and open no sockets, so a
 * test or a simulation drives them with plain objects.
 */
import type { AddressState } from "./pool-events.js";
import { hashString, rendezvousScore, type Hash64 } from "./rendezvous.js";

/** The pickers a pool offers (docs/deploy.md compares them). */
export type PickerName = "least-outstanding" | "round-robin" | "key-hash";

export const PICKERS: readonly PickerName[] = ["least-outstanding", "round-robin", "key-hash"];

/** What a picker reads of a connection. */
export interface Pickable {
  /** Calls in flight on it. */
  readonly pending: number;
  /** Its share of calls relative to the others (its server's weight, or the subset's balancing weight). */
  readonly weight: number;
  /** Round-robin state (smooth weighted round-robin's current weight). */
  rrWeight: number;
}

/** The call asking for a connection, as pickers see it. */
export interface PickCall<C> {
  /** The `key` call option (key-hash routes on it). */
  readonly key: string | undefined;
  /** Connections this call already failed on. */
  readonly excluded: ReadonlySet<C> | undefined;
}

/** A server as key-hash sees it once it has ranked the servers. */
export interface KeyServer<C> {
  readonly state: AddressState;
  /** Appends its connections taking calls now. */
  ready(into: C[]): void;
}

/** A resolved server as key-hash ranks it. */
export interface RankedServer {
  readonly hash: Hash64;
  /** Its weight as resolved (SRV), the same in every client, so every client ranks alike. */
  readonly weight: number;
}

/** What pickers choose from. */
export interface ReadySet<C> {
  /** Connections taking calls now, of the servers in rotation (this client's subset, none ejected). */
  readonly connections: readonly C[];
  /** Every resolved server (subset or not), for key-hash. */
  readonly servers: readonly RankedServer[];
  /**
   * Server `index` of {@link servers}, to send a key's calls to: a server
   * outside the subset is connected now (its calls wait for it).
   */
  use(index: number): KeyServer<C>;
}

/** Chooses a connection for a call: pure, apart from the round-robin state it keeps on connections. */
export interface Picker<C extends Pickable> {
  pick(set: ReadySet<C>, call: PickCall<C>): C | undefined;
}

function withoutExcluded<C>(list: readonly C[], excluded: ReadonlySet<C> | undefined): readonly C[] {
  return excluded === undefined || excluded.size === 0 ? list : list.filter((c) => !excluded.has(c));
}

/**
 * Least-outstanding by the power of two choices: two connections at
 * random, the one with fewer calls in flight per unit of weight. Nearly as
 * good as scanning all, in O(1), and it avoids sending every call to the
 * same "least loaded" connection at once. With unequal weights both are
 * drawn in proportion to weight and ties go to the first, so an idle pool
 * sends each connection its weight's share (a busy one: whichever has less
 * in flight per unit of weight).
 */
export class LeastOutstandingPicker<C extends Pickable> implements Picker<C> {
  private list: readonly C[] = [];
  /** Running sums of the weights of {@link list}; undefined while they are all equal. */
  private sums: Float64Array | undefined;

  constructor(private readonly random: () => number) {}

  pick(set: ReadySet<C>, call: PickCall<C>): C | undefined {
    const list = withoutExcluded(set.connections, call.excluded);
    if (list.length <= 1) return list[0];
    if (list !== this.list) this.weigh(list);
    return this.sums === undefined ? pickLeastOutstanding(list, this.random) : this.pickWeighted(list, this.sums);
  }

  private weigh(list: readonly C[]): void {
    this.list = list;
    this.sums = undefined;
    const first = (list[0] as C).weight;
    if (list.every((c) => c.weight === first)) return;
    const sums = new Float64Array(list.length);
    let total = 0;
    for (let i = 0; i < list.length; i++) {
      total += (list[i] as C).weight;
      sums[i] = total;
    }
    this.sums = sums;
  }

  private draw(sums: Float64Array): number {
    const r = this.random() * (sums[sums.length - 1] as number);
    let lo = 0;
    let hi = sums.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((sums[mid] as number) > r) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  }

  private pickWeighted(list: readonly C[], sums: Float64Array): C {
    const i = this.draw(sums);
    let j = this.draw(sums);
    // A second, different choice; after a few equal draws (one connection of most of the weight) any other.
    for (let tries = 0; j === i && tries < 3; tries++) j = this.draw(sums);
    if (j === i) j = (i + 1 + Math.floor(this.random() * (list.length - 1))) % list.length;
    const a = list[i] as C;
    const b = list[j] as C;
    return a.pending / a.weight <= b.pending / b.weight ? a : b;
  }
}

/** Smooth weighted round-robin over the ready connections: see {@link pickRoundRobin}. */
export class RoundRobinPicker<C extends Pickable> implements Picker<C> {
  pick(set: ReadySet<C>, call: PickCall<C>): C | undefined {
    return pickRoundRobin(withoutExcluded(set.connections, call.excluded));
  }
}

/**
 * Key-hash: a call with a key goes to the server rendezvous hashing ranks
 * first for it among every resolved server (so every client sends a key to
 * the same server, whatever its subset), then to that server's least busy
 * connection. A server that is down or ejected passes its keys to their
 * second choice; one still making its first connection makes them wait (so
 * keys do not wander while a pool starts). Calls without a key go to
 * `keyless`.
 */
export class KeyHashPicker<C extends Pickable> implements Picker<C> {
  private scores = new Float64Array(0);

  constructor(private readonly keyless: Picker<C>) {}

  pick(set: ReadySet<C>, call: PickCall<C>): C | undefined {
    if (call.key === undefined) return this.keyless.pick(set, call);
    const servers = set.servers;
    const n = servers.length;
    if (this.scores.length < n) this.scores = new Float64Array(n);
    const scores = this.scores;
    const h = hashString(call.key);
    for (let i = 0; i < n; i++) {
      const s = servers[i] as RankedServer;
      scores[i] = rendezvousScore(h, s.hash, s.weight);
    }
    // Best first; nearly always the first is up, so one pass, not a sort.
    for (let tried = 0; tried < n; tried++) {
      let best = -1;
      let bestScore = Number.NEGATIVE_INFINITY;
      for (let i = 0; i < n; i++) {
        const score = scores[i] as number;
        if (score > bestScore) {
          best = i;
          bestScore = score;
        }
      }
      if (best < 0) return undefined;
      scores[best] = Number.NEGATIVE_INFINITY;
      const server = set.use(best);
      const state = server.state;
      if (state === "ejected" || state === "transient_failure") continue;
      const list: C[] = [];
      server.ready(list);
      const usable = withoutExcluded(list, call.excluded);
      if (usable.length > 0) return pickLeast(usable);
      if (state === "connecting" || state === "idle") return undefined;
    }
    return undefined;
  }
}

/** The picker named `name`; `random` is a source of numbers in [0, 1). */
export function createPicker<C extends Pickable>(name: PickerName, random: () => number): Picker<C> {
  if (name === "round-robin") return new RoundRobinPicker<C>();
  const least = new LeastOutstandingPicker<C>(random);
  return name === "key-hash" ? new KeyHashPicker<C>(least) : least;
}

/**
 * Power of two choices over connections of equal weight: two at random
 * (distinct), the one with fewer calls in flight per unit of weight.
 */
export function pickLeastOutstanding<T extends Pickable>(list: readonly T[], random: () => number): T | undefined {
  const n = list.length;
  if (n <= 1) return list[0];
  const i = Math.floor(random() * n);
  let j = Math.floor(random() * (n - 1));
  if (j >= i) j++;
  const a = list[i] as T;
  const b = list[j] as T;
  return (a.pending + 1) / a.weight <= (b.pending + 1) / b.weight ? a : b;
}

/** Among `list`, the connection with the fewest calls in flight per unit of weight (first on ties). */
export function pickLeast<T extends Pickable>(list: readonly T[]): T | undefined {
  let best: T | undefined;
  let bestScore = Number.POSITIVE_INFINITY;
  for (const c of list) {
    const score = (c.pending + 1) / c.weight;
    if (score < bestScore) {
      best = c;
      bestScore = score;
    }
  }
  return best;
}

/**
 * Smooth weighted round-robin (nginx's): every connection gains its weight,
 * the one with the most is picked and pays the total. Equal weights give
 * plain rotation; weights 1 and 2 give a b b a b b, evenly interleaved.
 */
export function pickRoundRobin<T extends Pickable>(list: readonly T[]): T | undefined {
  if (list.length <= 1) return list[0];
  let total = 0;
  let best: T | undefined;
  for (const c of list) {
    c.rrWeight += c.weight;
    total += c.weight;
    if (best === undefined || c.rrWeight > best.rrWeight) best = c;
  }
  (best as T).rrWeight -= total;
  return best;
}
