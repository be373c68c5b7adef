/** Edit distance (insertions, deletions, substitutions, adjacent swaps) between two strings. */
export function editDistance(a: string, b: string): number {
  if (a === b) return 0;
  if (a.length === 0) return b.length;
  if (b.length === 0) return a.length;
  // Three rows of the optimal-string-alignment matrix.
  let before = new Array<number>(b.length + 1).fill(0);
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  let row = new Array<number>(b.length + 1).fill(0);
  for (let i = 1; i <= a.length; i++) {
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let d = Math.min((prev[j] as number) + 1, (row[j - 1] as number) + 1, (prev[j - 1] as number) + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d = Math.min(d, (before[j - 2] as number) + 1);
      row[j] = d;
    }
    [before, prev, row] = [prev, row, before];
  }
  return prev[b.length] as number;
}

/**
 * The candidates close enough to `input` to be what was meant, best first,
 * at most `max`: same name in another case, a small edit distance (at most
 * a third of the name, and at least 2), or one containing the other.
 */
export function nearNames(input: string, candidates: Iterable<string>, max = 3): string[] {
  const want = input.toLowerCase();
  const scored: { name: string; score: number }[] = [];
  const seen = new Set<string>();
  for (const name of candidates) {
    if (seen.has(name)) continue;
    seen.add(name);
    const have = name.toLowerCase();
    const distance = editDistance(want, have);
    const limit = Math.max(2, Math.floor(Math.max(want.length, have.length) / 3));
    if (distance <= limit) {
      scored.push({ name, score: distance });
    } else if (want.length >= 3 && (have.includes(want) || want.includes(have))) {
      scored.push({ name, score: limit + Math.abs(have.length - want.length) });
    }
  }
  scored.sort((x, y) => x.score - y.score || x.name.localeCompare(y.name));
  return scored.slice(0, max).map((s) => s.name);
}

/** "; did you mean X?" / "; did you mean X or Y?", or "" when nothing is near. */
export function didYouMean(input: string, candidates: Iterable<string>): string {
  const near = nearNames(input, candidates);
  if (near.length === 0) return "";
  const quoted = near.map((n) => `"${n}"`);
  const last = quoted.pop() as string;
  return `; did you mean ${quoted.length > 0 ? `${quoted.join(", ")} or ${last}` : last}?`;
}
