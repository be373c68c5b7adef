/**
 * Subsetting: each client of a large fleet connects to a few of the
 * resolved servers instead of all of them.
 *
 * A client's subset is the `size` servers it ranks highest by rendezvous
 * hashing of its identity with each server's address (the servers it can
 * use: one that this client ejected passes its place to the next). So a
 * server that leaves is replaced only in the subsets that held it, and one
 * that joins enters only the subsets where it now ranks in the top `size`:
 * about 1/N of the connections move, and none of the others.
 *
 * Random subsets alone load servers unevenly (a server's clients are a
 * binomial draw: at 20 clients per server on average, the busiest has about
 * 1.7 times the mean). When every client knows its index among a known
 * number of clients, it can compute every other client's subset too, and
 * with them one balancing weight per server (matrix scaling: each client
 * sends each server of its subset a share in proportion to the server's
 * weight, and the weights make every server's total the same). Every
 * client computes the same weights, so the load is even in expectation
 * without any client talking to another. docs/decisions.md has the
 * simulation that chose this over the SRE book's deterministic subsetting
 * and Finagle's aperture.
 */
import { Code, RpcError } from "../errors.js";
import { checkNumber, checkObject, invalidOption } from "../util/validate.js";
import type { SubsetOptions } from "./pool-options.js";
import type { ResolvedSet } from "./resolved-set.js";
import { hashString, rendezvousScore, type Hash64 } from "./rendezvous.js";

/** Checked subsetting options. */
export interface SubsetSettings {
  /** Servers per client. */
  readonly size: number;
  /** Subsetting is off while this many servers or fewer are resolved. */
  readonly minServers: number;
  /** This client's index among {@link clientCount} clients, when known. */
  readonly clientIndex: number | undefined;
  readonly clientCount: number | undefined;
  /** This client's identity, hashed. */
  readonly client: Hash64;
}

/** What every client of a fleet computes alike from the resolved servers. */
export interface SubsetPlan {
  /** Servers per client (more than asked when few clients must cover many servers); the whole set when subsetting is off. */
  readonly size: number;
  /** Balancing weight per server (index of the resolved set), when the clients' indices are known. */
  readonly weights: Float64Array | undefined;
}

/**
 * Checks subsetting options.
 *
 * @param random the pool's source of numbers in [0, 1), for a random identity.
 * @throws RpcError `invalid_argument` naming the option.
 */
export function checkSubset(options: SubsetOptions | false | undefined, random: () => number = Math.random): SubsetSettings | undefined {
  if (options === undefined || options === false) return undefined;
  checkObject("subset", options);
  const size = checkNumber("subset.size", options.size, 20, { min: 1, max: 1024 });
  const minServers = checkNumber("subset.minServers", options.minServers, 2 * size, { min: 0, max: 1e6 });
  const { clientIndex, clientCount, clientId } = options;
  if (clientId !== undefined && (typeof clientId !== "string" || clientId.length === 0)) {
    throw invalidOption("subset.clientId", clientId, "a non-empty string");
  }
  if (clientIndex === undefined && clientCount === undefined) {
    const id = clientId ?? `${Math.floor(random() * 2 ** 52).toString(36)}-${Date.now().toString(36)}`;
    return { size, minServers, clientIndex: undefined, clientCount: undefined, client: clientHash(id) };
  }
  if (clientId !== undefined) {
    throw new RpcError(Code.InvalidArgument, "subset.clientId cannot be combined with subset.clientIndex and subset.clientCount");
  }
  if (clientIndex === undefined || clientCount === undefined) {
    throw new RpcError(Code.InvalidArgument, "subset.clientIndex and subset.clientCount go together (give both, or neither)");
  }
  const count = checkNumber("subset.clientCount", clientCount, 1, { min: 1, max: 1e6 });
  const index = checkNumber("subset.clientIndex", clientIndex, 0, { min: 0, max: count - 1 });
  return { size, minServers, clientIndex: index, clientCount: count, client: clientHash(index) };
}

/** The identity hash of a client index or id (the same in every process). */
export function clientHash(identity: number | string): Hash64 {
  return hashString(`subset:${identity}`);
}

/** Scaling passes at most; each costs clients × size operations. */
const MAX_PASSES = 200;

/**
 * The top `m` servers for `client`, best first. Scores go to `scratch`
 * (reused across clients).
 */
export function topServers(client: Hash64, set: ResolvedSet, m: number, scratch?: Float64Array): Int32Array {
  const servers = set.servers;
  const n = servers.length;
  const scores = scratch !== undefined && scratch.length >= n ? scratch : new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const s = servers[i];
    if (s !== undefined) scores[i] = rendezvousScore(client, s.hash, s.weight);
  }
  const k = Math.min(m, n);
  // A min-heap of the best k so far: O(n log k).
  const heap = new Int32Array(k);
  let size = 0;
  const less = (a: number, b: number) => (scores[a] as number) < (scores[b] as number);
  const down = (from: number) => {
    let i = from;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let min = i;
      if (l < size && less(heap[l] as number, heap[min] as number)) min = l;
      if (r < size && less(heap[r] as number, heap[min] as number)) min = r;
      if (min === i) return;
      const t = heap[i] as number;
      heap[i] = heap[min] as number;
      heap[min] = t;
      i = min;
    }
  };
  for (let i = 0; i < n; i++) {
    if (size < k) {
      let j = size++;
      heap[j] = i;
      while (j > 0) {
        const p = (j - 1) >> 1;
        if (!less(heap[j] as number, heap[p] as number)) break;
        const t = heap[j] as number;
        heap[j] = heap[p] as number;
        heap[p] = t;
        j = p;
      }
    } else if (less(heap[0] as number, i)) {
      heap[0] = i;
      down(0);
    }
  }
  return heap.sort((a, b) => (scores[b] as number) - (scores[a] as number));
}

/** Every server of the set in the order `client` prefers them. */
export function rankServers(client: Hash64, set: ResolvedSet): Int32Array {
  return topServers(client, set, set.servers.length);
}

const plans = new WeakMap<ResolvedSet, Map<string, SubsetPlan>>();

/**
 * The subset size and balancing weights for the servers of `set`
 * (memoized per set: every client of a simulation shares one computation).
 * With the clients' count known this costs clients × servers hash
 * evaluations when the servers change (1,000 × 1,000: tens of ms).
 */
export function planSubsets(set: ResolvedSet, settings: SubsetSettings): SubsetPlan {
  const n = set.servers.length;
  if (n <= settings.minServers || n <= settings.size) return { size: n, weights: undefined };
  const count = settings.clientCount;
  if (count === undefined) return { size: settings.size, weights: undefined };
  const memoKey = `${settings.size}/${count}`;
  let forSet = plans.get(set);
  const known = forSet?.get(memoKey);
  if (known !== undefined) return known;
  const plan = balancedPlan(set, settings.size, count);
  if (forSet === undefined) {
    forSet = new Map();
    plans.set(set, forSet);
  }
  forSet.set(memoKey, plan);
  return plan;
}

function balancedPlan(set: ResolvedSet, wanted: number, count: number): SubsetPlan {
  const n = set.servers.length;
  // Every client's top servers, a few more than asked in case the coverage needs them.
  const most = Math.min(n, Math.max(wanted * 4, wanted + 8));
  const scratch = new Float64Array(n);
  const tops: Int32Array[] = [];
  for (let c = 0; c < count; c++) tops.push(topServers(clientHash(c), set, most, scratch));
  const cover = new Int32Array(n);
  let k = Math.min(wanted, n);
  const count1 = (s: number) => {
    cover[s] = (cover[s] as number) + 1;
  };
  for (const top of tops) for (let j = 0; j < k; j++) count1(top[j] as number);
  // A server in no subset would get no calls: grow the subsets until every server is in one. (Only that:
  // a stricter rule would make a one-server change in N grow every subset at once now and then.)
  const enough = () => cover.every((c) => c > 0);
  while (k < most && !enough()) {
    for (const top of tops) count1(top[k] as number);
    k++;
  }
  if (k >= n) return { size: n, weights: undefined };
  return { size: k, weights: scale(set, tops, k, cover) };
}

/**
 * Matrix scaling (Sinkhorn–Knopp): per-server weights y such that, when
 * each client splits its calls over its subset in proportion to y, every
 * server receives its resolved weight's share of all calls.
 */
function scale(set: ResolvedSet, tops: readonly Int32Array[], k: number, cover: Int32Array): Float64Array {
  const servers = set.servers;
  const n = servers.length;
  let total = 0;
  for (let s = 0; s < n; s++) if ((cover[s] as number) > 0) total += (servers[s] as { weight: number }).weight;
  const y = new Float64Array(n).fill(1);
  const load = new Float64Array(n);
  for (let pass = 0; pass < MAX_PASSES; pass++) {
    load.fill(0);
    for (const top of tops) {
      let sum = 0;
      for (let j = 0; j < k; j++) sum += y[top[j] as number] as number;
      for (let j = 0; j < k; j++) {
        const s = top[j] as number;
        load[s] = (load[s] as number) + (y[s] as number) / sum;
      }
    }
    let worst = 0;
    for (let s = 0; s < n; s++) {
      const got = load[s] as number;
      if (got === 0) continue;
      const target = (tops.length * (servers[s] as { weight: number }).weight) / total;
      const ratio = target / got;
      y[s] = (y[s] as number) * ratio;
      worst = Math.max(worst, Math.abs(ratio - 1));
    }
    if (worst < 1e-4) break;
  }
  // Mean 1 over the covered servers (only ratios matter; this keeps the numbers readable in stats).
  let sum = 0;
  let covered = 0;
  for (let s = 0; s < n; s++) {
    if ((cover[s] as number) === 0) continue;
    sum += y[s] as number;
    covered++;
  }
  const mean = covered > 0 ? sum / covered : 1;
  for (let s = 0; s < n; s++) y[s] = (cover[s] as number) === 0 ? 1 : (y[s] as number) / mean;
  return y;
}
