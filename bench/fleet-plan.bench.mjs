// Planning and judging `gpubench fleet` at scale: the round-robin schedule (every pair once),
// the k-batches and the bisection levels of N nodes, then the verdict on a synthetic fleet of
// that size (every node's matmul samples, every link's bandwidth samples; one slow node, one
// narrow node), which must name exactly those two. Run after `npm run build`:
//   node --max-old-space-size=12288 bench/fleet-plan.bench.mjs [N ...]   (default 64 256 1024 4096;
// 4,096 nodes hold 8.4 M links of samples: more than the default heap, which then thrashes)
// Reports times and the ratio to the previous size, against N² (the number of links) — a
// verdict linear in links (up to a log) grows by ~16× per 4× nodes, an O(L²) one by ~256×.
import { roundRobin, kBatches, bisectionLevels } from '../dist/fleet/schedule.js';
import { verdict } from '../dist/fleet/verdict.js';

/** Deterministic noise (an LCG), so every run judges the same fleet. */
function rng(seed) {
  let s = seed >>> 0;
  return () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
}

const sizes = process.argv.slice(2).map(Number);
const PAIR_SAMPLES = 3; // `--pair-samples` at its least: 8.4 M links of 4,096 nodes fit in a few GiB
let prev;
for (const n of sizes.length ? sizes : [64, 256, 1024, 4096]) {
  const t0 = performance.now();
  const rounds = roundRobin(n);
  const batches = kBatches(n, 8);
  const levels = bisectionLevels(Array.from({ length: n }, (_, i) => i));
  const planMs = performance.now() - t0;
  const pairs = rounds.reduce((s, r) => s + r.pairs.length / 2, 0);

  // A synthetic fleet: node SLOW computes 2× slower, node NARROW's links run at a quarter.
  const SLOW = n >> 1;
  const NARROW = n >> 2;
  const rand = rng(n);
  const noisy = (c, k) => Array.from({ length: k }, () => c * (1 + 0.05 * (2 * rand() - 1)));
  const nodes = Array.from({ length: n }, (_, r) => ({ kind: 'node', ranks: [r], samples: noisy(r === SLOW ? 20 : 10, 8) }));
  const links = [];
  for (const round of rounds)
    for (let i = 0; i < round.pairs.length; i += 2) {
      const [a, b] = [round.pairs[i], round.pairs[i + 1]];
      links.push({ kind: 'link', ranks: [a, b], samples: noisy(a === NARROW || b === NARROW ? 250 : 1000, PAIR_SAMPLES) });
    }
  const t1 = performance.now();
  const { suspects } = verdict({
    nodeMetrics: [{ metric: 'matmul time', unit: 'ms', better: 'lower', subjects: nodes }],
    linkMetrics: [{ metric: 'pair bandwidth', unit: 'MB/s', better: 'higher', subjects: links }],
  });
  const verdictMs = performance.now() - t1;
  const named = suspects.map((s) => `${s.via}:${s.ranks.join('-')}`).sort().join(' ');
  const ok = named === [`links:${NARROW}`, `node:${SLOW}`].sort().join(' ');
  const ratio = prev ? ` (×${(verdictMs / prev.verdictMs).toFixed(1)} for ×${((n / prev.n) ** 2).toFixed(0)} links)` : '';
  console.log(`N=${n}: ${rounds.length} rounds, ${pairs} pairs, ${batches.length} 8-batches, ${levels.length} bisection levels: plan ${planMs.toFixed(1)} ms; verdict on ${n} nodes × 8 samples + ${links.length} links × ${PAIR_SAMPLES} samples: ${verdictMs.toFixed(0)} ms${ratio}; names ${named || 'no one'} ${ok ? '(right)' : '(WRONG)'}`);
  prev = { n, verdictMs };
}
