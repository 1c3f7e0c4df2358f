/**
 * The JIT warm-up before large collective cases: which calls get a stand-in and what it
 * looks like, and that a case run after it is still checked and timed as before, with
 * the stand-in's calls recorded in its warm-up.
 */
import { describe, expect, it } from 'vitest';
import { inProcessGroup } from '../src/collectives/inprocess.js';
import type { CollectiveCall } from '../src/collectives/collective.js';
import { JIT_WARMUP_CALLS, JIT_WARMUP_MIN_BYTES, jitProxy, warmJit } from '../src/collectives/jit-warmup.js';
import { runRankCase } from '../src/collectives/rank-case.js';
import { freshSeed } from '../src/harness/random.js';

const MiB = 1024 * 1024;
const call = (over: Partial<CollectiveCall>): CollectiveCall => ({ kind: 'allreduce', dtype: 'f32', op: 'sum', algorithm: 'ring', count: (16 * MiB) / 4, inPlace: false, ...over });

describe('the stand-in call', () => {
  it('is the same collective at 1 MiB with 128 KiB slices, from 4 MiB up only', () => {
    const big = call({ op: 'max', inPlace: true, algorithm: 'halving-doubling' });
    expect(jitProxy(big, 4)).toEqual({ ...big, count: MiB / 4, chunkBytes: 128 * 1024 });
    expect(jitProxy(call({ count: JIT_WARMUP_MIN_BYTES / 4 - 1 }), 4)).toBeUndefined();
    expect(jitProxy(call({ count: JIT_WARMUP_MIN_BYTES / 4 }), 4)).toBeDefined();
  });

  it("runs the algorithm auto picks at the case's size, not at its own", () => {
    // Ranks that share cores take the ring from 2 MiB and the tree below: the stand-in must still be the ring.
    const auto = call({ algorithm: 'auto', cpuBound: true });
    expect(jitProxy(auto, 4)?.algorithm).toBe('ring');
    expect(jitProxy(call({ algorithm: 'tree' }), 4)?.algorithm).toBe('tree');
  });

  it('keeps a whole number of elements per rank, and a smaller slice where the case asks for one', () => {
    const p = jitProxy(call({ kind: 'reducescatter', dtype: 'f16', count: 3 * 2 * MiB, chunkBytes: 64 * 1024 }), 3)!;
    expect(p.count % 3).toBe(0);
    expect(p.count * 2).toBeLessThanOrEqual(MiB);
    expect(p.count * 2).toBeGreaterThan(MiB - 6);
    expect(p.chunkBytes).toBe(64 * 1024);
  });
});

describe('a large case after the JIT warm-up', () => {
  const opts = { warmupMs: 5, warmupIterations: 1, minTimeMs: 20, minSamples: 3, maxSamples: 5, minSampleMs: 2, maxTimeMs: 10_000 };

  it('is checked on every rank and records the stand-in calls in its warm-up', async () => {
    const ts = inProcessGroup(4);
    const c = call({ count: JIT_WARMUP_MIN_BYTES / 4 + 3 });
    const seed = freshSeed();
    const res = await Promise.all(ts.map((t) => runRankCase(t, c, seed, opts)));
    for (const r of res) expect(r.check).toMatchObject({ passed: true, wrong: 0 });
    // All of them, unless this machine took over 2 s for them.
    expect(res[0]!.warmup?.jitCalls).toBeGreaterThanOrEqual(1);
    expect(res[0]!.warmup?.jitCalls).toBeLessThanOrEqual(JIT_WARMUP_CALLS);
    expect(res[0]!.samplesMs!.length).toBeGreaterThanOrEqual(3);
  }, 60_000);

  it('stops at the same call on every rank when its time runs out', async () => {
    const ts = inProcessGroup(3);
    const calls = await Promise.all(ts.map((t) => warmJit(t, call({ count: 3 * MiB }), 0)));
    // The ranks compare their time after every 20 calls; with no time at all they stop at the first check.
    expect(calls).toEqual([20, 20, 20]);
  });

  it('is not made for a small case', async () => {
    const ts = inProcessGroup(2);
    const res = await Promise.all(ts.map((t) => runRankCase(t, call({ count: 1000 }), freshSeed(), opts)));
    expect(res[0]!.warmup?.jitCalls).toBeUndefined();
  });
});
