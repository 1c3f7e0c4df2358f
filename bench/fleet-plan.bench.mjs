// Planning `gpubench fleet` at scale: the round-robin schedule (every pair once), the
// k-batches and the bisection halves of N nodes. Run after `npm run build`:
//   node bench/fleet-plan.bench.mjs [N ...]
import { roundRobin, kBatches, halves } from '../dist/fleet/schedule.js';

const sizes = process.argv.slice(2).map(Number);
for (const n of sizes.length ? sizes : [64, 256, 1024, 4096]) {
  const t0 = performance.now();
  const rounds = roundRobin(n);
  const batches = kBatches(n, 8);
  let group = Array.from({ length: n }, (_, i) => i);
  let depth = 0;
  while (group.length > 1) {
    group = halves(group)[0];
    depth++;
  }
  const ms = performance.now() - t0;
  const pairs = rounds.reduce((s, r) => s + r.pairs.length / 2, 0);
  console.log(`N=${n}: ${rounds.length} rounds, ${pairs} pairs, ${batches.length} 8-batches, ${depth} bisection levels: ${ms.toFixed(1)} ms`);
}
