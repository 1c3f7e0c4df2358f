/**
 * Warming V8's optimiser before a large collective is timed. A large call spends its time
 * in the kernel and the native reduction, and runs the JavaScript around each message
 * (framing, stream writes, promises) only a few hundred times a second. V8 optimises a
 * function once it has run enough bytecode, so at 16 MiB on 4 processes the hot path was
 * still being compiled 6–16 s into a case: TurboFan on background threads took 5–8% of
 * the CPU inside the measured window, on cores the ranks themselves need. A smaller call of
 * the same algorithm runs the same functions with the same message shapes many times
 * faster, so a few hundred of those first (fewer where they would take long) bring the
 * code near the steady state that a long run reaches anyway; the harness's own warm-up
 * then runs at the case's size.
 */
import type { Transport } from './transport.js';
import { allocateBuffers, resolveAlgorithm, runCollective, type CollectiveCall } from './collective.js';
import { bytesOf, elementBytes } from './dtypes.js';
import { recursiveDoublingAllReduce } from './algorithms/recursive-doubling.js';
import { DEFAULT_CHUNK_BYTES } from './algorithms/ring-steps.js';

/** Calls from this size up get a JIT warm-up; smaller ones run their own code often enough. */
export const JIT_WARMUP_MIN_BYTES = 4 * 1024 * 1024;
/** Size of the stand-in call. */
const PROXY_BYTES = 1024 * 1024;
/**
 * Its slice: above the 64 KiB at which a data frame's length takes the 8-byte form and
 * above the size up to which a send is coalesced, so each message takes the same branches
 * as the case's own.
 */
const PROXY_CHUNK_BYTES = 128 * 1024;
/** Stand-in calls: enough for the hot path to be optimised (about 0.5 s at 1 MiB on 4 processes on 2 cores). */
export const JIT_WARMUP_CALLS = 200;
/** Longest the stand-in calls may take: over a slow network fewer calls are made. */
export const JIT_WARMUP_MAX_MS = 2000;

/**
 * The stand-in for a large call: the same collective, algorithm (as `auto` resolves at the
 * case's size), dtype, op and placement, at 1 MiB; undefined for calls too small to need one.
 */
export function jitProxy(c: CollectiveCall, ranks: number): CollectiveCall | undefined {
  const es = elementBytes(c.dtype);
  if (c.count * es < JIT_WARMUP_MIN_BYTES) return undefined;
  // A whole number of elements per rank, as every collective accepts.
  const count = Math.max(1, Math.floor(PROXY_BYTES / es / ranks)) * ranks;
  const chunkBytes = Math.min(c.chunkBytes ?? DEFAULT_CHUNK_BYTES, PROXY_CHUNK_BYTES);
  // `auto` is resolved at the case's size: at 1 MiB it could pick another algorithm.
  return { ...c, algorithm: resolveAlgorithm(c, ranks), count, chunkBytes };
}

/** Stand-in calls between the ranks' checks of the time spent. */
const CHECK_EVERY = 20;

/**
 * Runs the stand-in `JIT_WARMUP_CALLS` times on every rank, or fewer where that would take
 * longer than `maxMs` (a slow network). Every `CHECK_EVERY` calls the ranks
 * agree on the slowest one's elapsed time (a max all-reduce of one f32), so every rank
 * makes the same calls and stops at the same one. Returns the calls made (0: none needed).
 * The results are not checked: the stand-in's data is whatever its buffers hold, and the
 * case's own call is checked before and timed after.
 */
export async function warmJit(t: Transport, c: CollectiveCall, maxMs = JIT_WARMUP_MAX_MS): Promise<number> {
  const proxy = jitProxy(c, t.size);
  if (!proxy) return 0;
  const bufs = allocateBuffers(proxy, t.size, t.rank);
  const t0 = performance.now();
  let calls = 0;
  for (;;) {
    for (let i = 0; i < CHECK_EVERY && calls < JIT_WARMUP_CALLS; i++, calls++) await runCollective(t, proxy, bufs);
    if (calls >= JIT_WARMUP_CALLS) return calls;
    const elapsed = new Float32Array([performance.now() - t0]);
    if (t.size > 1) await recursiveDoublingAllReduce(t, bytesOf(elapsed), 'f32', 'max');
    if (elapsed[0]! >= maxMs) return calls;
  }
}
