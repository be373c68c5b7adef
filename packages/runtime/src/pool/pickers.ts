/**
 * How a pool chooses a connection for a call among the ready ones. Key-hash
 * picks a server first (rendezvous.ts) and then uses least-outstanding
 * among that server's connections.
 */

/** The pickers a pool offers (docs/deploy.md compares them). */
export type PickerName = "least-outstanding" | "round-robin" | "key-hash";

export const PICKERS: readonly PickerName[] = ["least-outstanding", "round-robin", "key-hash"];

/** What a picker reads of a connection. */
export interface Pickable {
  /** Calls in flight on it. */
  readonly pending: number;
  /** Its server's relative share. */
  readonly weight: number;
  /** Round-robin state (smooth weighted round-robin's current weight). */
  rrWeight: number;
}

/**
 * Least-outstanding by the power of two choices: two connections at
 * random, the one with fewer calls in flight per unit of weight. Nearly as
 * good as scanning all, in O(1), and it avoids sending every call to the
 * same "least loaded" connection at once.
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
