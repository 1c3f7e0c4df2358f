/**
 * The pair schedule of `gpubench fleet`: every pair of nodes measured once, no node in two
 * pairs at once. A round-robin tournament by the circle method: fix one node, rotate the
 * others one place a round; for an even n that is n − 1 rounds of n/2 disjoint pairs, for
 * an odd n a phantom node makes it n rounds where each node sits one out (its bye).
 * O(n²) pairs in total (there are that many links), O(n) rounds, O(1) work per pair; a
 * round can be made on its own (`scheduleRound`), so a coordinator need not hold them all.
 */

/**
 * One round: disjoint pairs, flat (`pairs[2i] < pairs[2i+1]` is pair i; a typed array, so
 * the 8.4 M pairs of 4,096 nodes cost 64 MiB and no per-pair object), and the node that
 * sits out (odd n).
 */
export interface Round {
  pairs: Int32Array;
  bye?: number;
}

/** Number of rounds for `n` nodes: n − 1 (even n), n (odd n), 0 below 2. */
export function roundCount(n: number): number {
  return n < 2 ? 0 : n % 2 === 0 ? n - 1 : n;
}

/** The pairs of one round as [a, b] tuples (for callers that want them small and readable). */
export function pairsOf(round: Round): [number, number][] {
  const out: [number, number][] = [];
  for (let i = 0; i < round.pairs.length; i += 2) out.push([round.pairs[i]!, round.pairs[i + 1]!]);
  return out;
}

/**
 * The round-robin schedule of `n` nodes (0..n−1).
 * @returns n − 1 rounds for even n, n rounds (each with one bye) for odd n; none for n < 2
 */
export function roundRobin(n: number): Round[] {
  if (!Number.isInteger(n) || n < 0) throw new RangeError(`roundRobin: n must be a non-negative integer, not ${n}`);
  return Array.from({ length: roundCount(n) }, (_, r) => scheduleRound(n, r));
}

/** Round `r` (0 ≤ r < roundCount(n)) of `n` nodes' schedule, in O(n), without the others. */
export function scheduleRound(n: number, r: number): Round {
  // With a phantom node m − 1 = n for odd n: whoever meets it has the bye.
  const m = n % 2 === 0 ? n : n + 1;
  // Circle method: node m − 1 stays put; the others sit on a circle of m − 1 places and
  // rotate. In round r, place i holds node (i + r) mod (m − 1).
  const ring = m - 1;
  const pairs = new Int32Array(2 * Math.floor(n / 2));
  let k = 0;
  let bye: number | undefined;
  const add = (a: number, b: number) => {
    if (a >= n) bye = b;
    else if (b >= n) bye = a;
    else {
      pairs[k++] = Math.min(a, b);
      pairs[k++] = Math.max(a, b);
    }
  };
  add(m - 1, r % ring);
  for (let i = 1; i < m / 2; i++) add((r + i) % ring, (r + ring - i) % ring);
  return bye === undefined ? { pairs } : { pairs, bye };
}

/**
 * Nodes 0..n−1 in batches of at most `k` consecutive nodes (the last may be smaller):
 * the groups a k-batch all-reduce runs over, each batch at the same time.
 */
export function kBatches(n: number, k: number): number[][] {
  if (!Number.isInteger(k) || k < 1) throw new RangeError(`kBatches: k must be a positive integer, not ${k}`);
  const out: number[][] = [];
  for (let start = 0; start < n; start += k) out.push(Array.from({ length: Math.min(k, n - start) }, (_, i) => start + i));
  return out;
}

/** Halves of a group, for bisecting a slow whole-group collective: [first ⌈n/2⌉, rest]. */
export function halves<T>(group: readonly T[]): [T[], T[]] {
  const mid = Math.ceil(group.length / 2);
  return [group.slice(0, mid), group.slice(mid)];
}

/**
 * The levels of a bisection of `group`: level 0 is its halves, each later level the halves
 * of the groups of the level before (halves, then quarters, …). A group of 3 or more ranks
 * is split; a half of one rank sits out (an all-reduce needs two); a pair is not split.
 * Groups within a level are disjoint, so a level's all-reduces run at the same time: about
 * log₂ n levels, O(n) work in all.
 */
export function bisectionLevels<T>(group: readonly T[]): T[][][] {
  const levels: T[][][] = [];
  let current: T[][] = [[...group]];
  for (;;) {
    const next = current.filter((g) => g.length >= 3).flatMap((g) => halves(g)).filter((g) => g.length >= 2);
    if (next.length === 0) return levels;
    levels.push(next);
    current = next;
  }
}
