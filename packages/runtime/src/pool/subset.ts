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
import type { ResolvedServer, ResolvedSet } from "./resolved-set.js";
import { hashString, rendezvousScore, unitHash, type Hash64 } from "./rendezvous.js";

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

/**
 * The top `m` servers for `client`, best first. Scores go to `scratch`
 * (reused across clients).
 */
export function topServers(client: Hash64, set: ResolvedSet, m: number, scratch?: Float64Array): Int32Array {
  const servers = set.servers;
  const n = servers.length;
  const scores = scratch !== undefined && scratch.length >= n ? scratch : new Float64Array(n);
  // With equal weights the order of unitHash is the order of the scores (-1 / ln u rises with u): no logarithm.
  for (let i = 0; i < n; i++) {
    const s = servers[i] as ResolvedServer;
    scores[i] = set.uniform ? unitHash(client, s.hash) : rendezvousScore(client, s.hash, s.weight);
  }
  const k = Math.min(m, n);
  // A min-heap of the best k so far: O(n log k).
  const heap = new Int32Array(k);
  for (let i = 0; i < k; i++) {
    let j = i;
    const score = scores[i] as number;
    while (j > 0) {
      const p = (j - 1) >> 1;
      const parent = heap[p] as number;
      if (score >= (scores[parent] as number)) break;
      heap[j] = parent;
      j = p;
    }
    heap[j] = i;
  }
  for (let i = k; i < n; i++) {
    const score = scores[i] as number;
    if (k === 0 || score <= (scores[heap[0] as number] as number)) continue;
    // Replace the smallest and sift it down.
    let j = 0;
    for (;;) {
      const l = 2 * j + 1;
      if (l >= k) break;
      const r = l + 1;
      let c = l;
      if (r < k && (scores[heap[r] as number] as number) < (scores[heap[l] as number] as number)) c = r;
      if ((scores[heap[c] as number] as number) >= score) break;
      heap[j] = heap[c] as number;
      j = c;
    }
    heap[j] = i;
  }
  return heap.sort((x, y) => (scores[y] as number) - (scores[x] as number));
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
  const scratch = new Float64Array(n);
  const hashes = Array.from({ length: count }, (_, c) => clientHash(c));
  // A server in no subset would get no calls: grow the subsets until every server is in one. (Only that:
  // a stricter rule would make a one-server change in N grow every subset at once now and then.) The
  // first try nearly always covers every server; a second takes a margin.
  for (let most = Math.min(wanted, n); ; most = Math.min(n, Math.max(most * 2, most + 8))) {
    const tops = new Int32Array(count * most);
    for (let c = 0; c < count; c++) tops.set(topServers(hashes[c] as Hash64, set, most, scratch), c * most);
    const cover = new Int32Array(n);
    let uncovered = n;
    for (let k = 1; k <= most; k++) {
      for (let c = 0; c < count; c++) {
        const s = tops[c * most + k - 1] as number;
        if (cover[s] === 0) uncovered--;
        cover[s] = (cover[s] as number) + 1;
      }
      if (k < wanted || uncovered > 0) continue;
      if (k >= n) return { size: n, weights: undefined };
      return { size: k, weights: scale(set, tops, most, k, cover) };
    }
    if (most >= n) return { size: n, weights: undefined };
  }
}

/** Scaling passes at most; each costs clients × size operations. */
const MAX_PASSES = 200;

/**
 * Matrix scaling (Sinkhorn–Knopp): per-server weights y such that, when
 * each client splits its calls over its subset (its first `k` of `stride`
 * in `tops`) in proportion to y, every server receives its resolved
 * weight's share of all calls, within 0.1 %.
 */
function scale(set: ResolvedSet, tops: Int32Array, stride: number, k: number, cover: Int32Array): Float64Array {
  const servers = set.servers;
  const n = servers.length;
  const count = tops.length / stride;
  let total = 0;
  for (let s = 0; s < n; s++) if ((cover[s] as number) > 0) total += (servers[s] as ResolvedServer).weight;
  const y = new Float64Array(n).fill(1);
  const load = new Float64Array(n);
  for (let pass = 0; pass < MAX_PASSES; pass++) {
    load.fill(0);
    for (let c = 0; c < count; c++) {
      const base = c * stride;
      let sum = 0;
      for (let j = 0; j < k; j++) sum += y[tops[base + j] as number] as number;
      for (let j = 0; j < k; j++) {
        const s = tops[base + j] as number;
        load[s] = (load[s] as number) + (y[s] as number) / sum;
      }
    }
    let worst = 0;
    for (let s = 0; s < n; s++) {
      const got = load[s] as number;
      if (got === 0) continue;
      const ratio = (count * (servers[s] as ResolvedServer).weight) / total / got;
      y[s] = (y[s] as number) * ratio;
      worst = Math.max(worst, Math.abs(ratio - 1));
    }
    if (worst < 1e-3) break;
  }
  // Mean 1 over the covered servers (only ratios matter; this keeps the numbers readable).
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
