/**
 * The collectives nccl-tests measures beyond all-reduce, all-gather, reduce-scatter and
 * broadcast: reduce, all-to-all, gather, scatter and send/receive, on the in-process
 * transport for 1, 2, 3, 5 and 7 ranks, every dtype (every op for reduce), roots 0 and
 * n−1, in and out of place (where NCCL has an in-place form), uneven sizes and several
 * slices a message, on fresh random data against the float64 reference with poisoned
 * outputs; what the check reads where NCCL defines no output; the buffer shapes, bus
 * factors and planning of their cases.
 */
import { describe, expect, it } from 'vitest';
import '../src/kernels/index.js';
import { inProcessGroup } from '../src/collectives/inprocess.js';
import { COLLECTIVE_DTYPES } from '../src/collectives/dtypes.js';
import { REDUCE_OPS } from '../src/collectives/ops.js';
import {
  allocateBuffers,
  ALGORITHMS,
  BUS_FACTOR,
  collectiveModule,
  COLLECTIVES,
  resolveAlgorithm,
  runCollective,
  type CollectiveCall,
  type CollectiveKind,
} from '../src/collectives/collective.js';
import { checkedBytes, checkOutput, prepareRank, ReferenceCache } from '../src/collectives/reference.js';
import { binomialTree } from '../src/collectives/algorithms/reduce.js';
import { runRankCase } from '../src/collectives/rank-case.js';
import { callOf, collectiveSupport, collectiveWorkload } from '../src/collectives/workload.js';
import { CallSchema } from '../src/collectives/control/protocol.js';
import { freshSeed } from '../src/harness/random.js';
import { WORKLOADS } from '../src/harness/results/schema.js';
import { withWorld } from './helpers/world.js';

const NEW_KINDS = ['reduce', 'alltoall', 'gather', 'scatter', 'sendrecv'] as const satisfies readonly CollectiveKind[];
const ROOTED = new Set<CollectiveKind>(['reduce', 'gather', 'scatter']);
const BLOCKS = new Set<CollectiveKind>(['alltoall', 'gather', 'scatter']);

/** Runs one call on every rank of an in-process group, prepared (inputs, poison) as the ranks do it; returns each rank's check. */
async function runGroup(c: CollectiveCall, ranks: number, seed = freshSeed()) {
  const ts = inProcessGroup(ranks);
  const bufs = ts.map((t) => allocateBuffers(c, ranks, t.rank));
  bufs.forEach((b, r) => prepareRank(c, ranks, r, seed, b));
  await Promise.all(ts.map((t, r) => runCollective(t, c, bufs[r]!)));
  return bufs.map((b, r) => checkOutput(c, ranks, r, seed, checkedBytes(c, ranks, r, b)));
}

const expectAllPassed = (checks: { passed: boolean; wrong: number; checked?: number }[], what: string) => {
  checks.forEach((ch, r) => {
    expect(ch, `${what} rank ${r}`).toMatchObject({ passed: true, wrong: 0 });
    expect(ch.checked, `${what} rank ${r}`).toBeGreaterThan(0);
  });
};

/** The calls of one kind on `ranks` ranks: every dtype, op (reduce), root 0 and n−1, both placements where NCCL has both, uneven sizes. */
function callsOf(kind: (typeof NEW_KINDS)[number], ranks: number): CollectiveCall[] {
  const m = collectiveModule(kind);
  const out: CollectiveCall[] = [];
  // Blocked kinds: odd elements per rank; the rest: odd totals. 64-byte slices: several a message.
  const counts = BLOCKS.has(kind) ? [1, 13, 257].map((per) => per * ranks) : [1, 7, 1001];
  for (const dtype of COLLECTIVE_DTYPES)
    for (const op of kind === 'reduce' ? REDUCE_OPS : (['sum'] as const))
      for (const root of ROOTED.has(kind) ? [...new Set([0, ranks - 1])] : [undefined])
        for (const inPlace of m.noInPlace ? [false] : [false, true])
          for (const count of counts) out.push({ kind, dtype, op, algorithm: 'auto', count, inPlace, chunkBytes: 64, ...(root !== undefined ? { root } : {}) });
  return out;
}

describe('reduce, all-to-all, gather, scatter, send/receive on the in-process transport', () => {
  for (const kind of NEW_KINDS)
    for (const ranks of [1, 2, 3, 5, 7])
      it(`${kind}, ${ranks} ranks: every dtype${kind === 'reduce' ? ' and op' : ''}${ROOTED.has(kind) ? ', roots 0 and n−1' : ''}, ${collectiveModule(kind).noInPlace ? 'out of place' : 'in and out of place'}, uneven sizes`, async () => {
        for (const c of callsOf(kind, ranks))
          expectAllPassed(await runGroup(c, ranks), `${c.dtype} ${c.op} ${c.count}${c.root !== undefined ? ` root ${c.root}` : ''}${c.inPlace ? ' in place' : ''}`);
      });

  it('large buffers in many slices, each algorithm by name', async () => {
    const algorithm = { reduce: 'tree', alltoall: 'pairwise', gather: 'linear', scatter: 'linear', sendrecv: 'shift' } as const;
    for (const kind of NEW_KINDS) {
      expect(ALGORITHMS[kind]).toEqual(['auto', algorithm[kind]]);
      const c: CollectiveCall = { kind, dtype: 'f32', op: 'sum', algorithm: algorithm[kind], count: 6 * 50_001, inPlace: false, root: 4, chunkBytes: 16 * 1024 };
      expectAllPassed(await runGroup(c, 6), kind);
      expect(resolveAlgorithm({ ...c, algorithm: 'auto' }, 6)).toBe(algorithm[kind]);
    }
  });

  it('refuses an algorithm the collective does not have', async () => {
    const [t] = inProcessGroup(1);
    const c: CollectiveCall = { kind: 'reduce', dtype: 'f32', op: 'sum', algorithm: 'ring', count: 4, inPlace: false };
    await expect(runCollective(t!, c, allocateBuffers(c, 1, 0))).rejects.toThrow(/unknown algorithm "ring"; allowed: auto, tree/);
  });
});

describe('what is checked', () => {
  it('a call that writes nothing fails on every rank whose output NCCL defines (the poison stays)', () => {
    for (const kind of NEW_KINDS) {
      const c: CollectiveCall = { kind, dtype: 'f32', op: 'sum', algorithm: 'auto', count: 3 * 11, inPlace: false, root: 1 };
      const seed = freshSeed();
      const checks = [0, 1, 2].map((r) => {
        const b = allocateBuffers(c, 3, r);
        prepareRank(c, 3, r, seed, b);
        return checkOutput(c, 3, r, seed, checkedBytes(c, 3, r, b));
      });
      // Reduce and gather define the root's output only; the others every rank's.
      const defined = kind === 'reduce' || kind === 'gather' ? [1] : [0, 1, 2];
      checks.forEach((ch, r) => expect(ch.passed, `${kind} rank ${r}`).toBe(!defined.includes(r)));
      expect(checks[1]!.maxRelError).toBeNull();
    }
  });

  it("reduce and gather: a non-root's send buffer must be unchanged (NCCL's const sendbuff), bit for bit", async () => {
    for (const kind of ['reduce', 'gather'] as const)
      for (const inPlace of [false, true]) {
        const c: CollectiveCall = { kind, dtype: 'bf16', op: 'sum', algorithm: 'auto', count: 4 * 9, inPlace, root: 3 };
        const ts = inProcessGroup(4);
        const seed = freshSeed();
        const bufs = ts.map((t) => allocateBuffers(c, 4, t.rank));
        bufs.forEach((b, r) => prepareRank(c, 4, r, seed, b));
        await Promise.all(ts.map((t, r) => runCollective(t, c, bufs[r]!)));
        // Rank 1 is an inner rank of the tree rooted at 3 (relative rank 2): it reduced rank 2's data, in scratch.
        expect(binomialTree(1, 4, 3)).toEqual({ parent: 3, children: [2] });
        for (const r of [0, 1, 2]) expect(checkedBytes(c, 4, r, bufs[r]!)).toBe(bufs[r]!.input);
        expect(checkedBytes(c, 4, 3, bufs[3]!)).toBe(bufs[3]!.output);
        bufs[1]!.input[1] = bufs[1]!.input[1]! ^ 0x01; // the lowest exponent bit of element 0
        expect(checkOutput(c, 4, 1, seed, checkedBytes(c, 4, 1, bufs[1]!)), `${kind} ${inPlace}`).toMatchObject({ passed: false, wrong: 1 });
        expect(checkOutput(c, 4, 0, seed, checkedBytes(c, 4, 0, bufs[0]!))).toMatchObject({ passed: true, wrong: 0 });
      }
  });

  it('the in-place layouts are NCCL\'s: gather\'s input is block r of the output, scatter\'s output block r of the input', () => {
    const es = 4;
    for (const kind of ['gather', 'scatter'] as const) {
      const c: CollectiveCall = { kind, dtype: 'f32', op: 'sum', algorithm: 'auto', count: 5 * 6, inPlace: true };
      const b = allocateBuffers(c, 5, 2);
      const [whole, block] = kind === 'gather' ? [b.output, b.input] : [b.input, b.output];
      expect(whole.byteLength).toBe(30 * es);
      expect(block.buffer).toBe(whole.buffer);
      expect([block.byteOffset - whole.byteOffset, block.byteLength]).toEqual([2 * 6 * es, 6 * es]);
    }
    const r: CollectiveCall = { kind: 'reduce', dtype: 'f32', op: 'sum', algorithm: 'auto', count: 7, inPlace: true };
    const rb = allocateBuffers(r, 3, 0);
    expect(rb.output).toBe(rb.input);
  });

  it('one check per rank in one process gives the per-rank verdict, each reference built once', async () => {
    for (const kind of NEW_KINDS) {
      const c: CollectiveCall = { kind, dtype: 'f16', op: kind === 'reduce' ? 'avg' : 'sum', algorithm: 'auto', count: 3 * 401, inPlace: false, root: 2 };
      const seed = freshSeed();
      const ts = inProcessGroup(3);
      const cache = new ReferenceCache(c, 3, seed);
      const bufs = ts.map((t) => allocateBuffers(c, 3, t.rank));
      bufs.forEach((b, r) => prepareRank(c, 3, r, seed, b, cache.input(r)));
      await Promise.all(ts.map((t, r) => runCollective(t, c, bufs[r]!)));
      const checked = bufs.map((b, r) => checkedBytes(c, 3, r, b));
      checked[2]![1] = checked[2]![1]! ^ 0x40; // an exponent bit of the root's first element
      checked.forEach((bytes, r) => {
        const alone = checkOutput(c, 3, r, seed, bytes);
        expect(checkOutput(c, 3, r, seed, bytes, cache), `${kind} rank ${r}`).toEqual(alone);
        expect(alone.wrong, `${kind} rank ${r}`).toBe(r === 2 ? 1 : 0);
      });
    }
  });
});

describe('a rank-side case of each', () => {
  it('checks on every rank and times with the slowest rank', async () => {
    const opts = { warmupMs: 2, warmupIterations: 2, minTimeMs: 5, minSamples: 3, maxSamples: 5, minSampleMs: 1, maxTimeMs: 5000 };
    for (const kind of NEW_KINDS) {
      const ts = inProcessGroup(4);
      const c: CollectiveCall = { kind, dtype: 'f32', op: 'max', algorithm: 'auto', count: 4 * 1024, inPlace: false, root: 3 };
      const seed = freshSeed();
      const res = await Promise.all(ts.map((t) => runRankCase(t, c, seed, opts)));
      for (const r of res) expect(r.check, `${kind} rank ${r.rank}`).toMatchObject({ passed: true, wrong: 0 });
      expect(res[0]!.samplesMs!.length).toBeGreaterThanOrEqual(3);
      expect(res[0]!.algorithm).toBe(resolveAlgorithm(c, 4));
    }
  });
});

describe('planning their cases', () => {
  it('are in the registry and the results contract, with nccl-tests\' bus factors', () => {
    for (const kind of NEW_KINDS) {
      expect(COLLECTIVES).toContain(kind);
      expect(WORKLOADS).toContain(kind);
    }
    expect([1, 2, 4, 8].map(BUS_FACTOR.reduce)).toEqual([1, 1, 1, 1]);
    expect([1, 2, 4, 8].map(BUS_FACTOR.sendrecv)).toEqual([1, 1, 1, 1]);
    for (const kind of ['alltoall', 'gather', 'scatter'] as const) expect([1, 2, 4, 8].map(BUS_FACTOR[kind])).toEqual([0, 0.5, 0.75, 0.875]);
  });

  it('round S to whole per-rank blocks, name the op only for reduce and the root only where it is not 0, busbw = algbw × factor', async () => {
    await withWorld(3, () => {
      for (const kind of NEW_KINDS) {
        const w = collectiveWorkload(kind);
        const cases = w.expand(w.entrySchema.parse({ workload: kind, minBytes: 8, maxBytes: 1000, stepFactor: 5, dtypes: ['f16'], ops: ['prod'] }), {});
        for (const p of cases) {
          expect(p.bytes % (BLOCKS.has(kind) ? 3 * 2 : 2), `${kind} ${p.bytes}`).toBe(0);
          expect(p.count * 2).toBe(p.bytes);
          const id = w.caseId('ws', p);
          expect(id).toMatch(new RegExp(`^${kind}/ws/f16${kind === 'reduce' ? '/prod' : ''}/auto/${p.bytes}/r3h1$`));
          expect(w.metrics(p, 2, {}).busbwGBps).toBeCloseTo(w.metrics(p, 2, {}).algbwGBps! * BUS_FACTOR[kind](3), 12);
        }
        if (ROOTED.has(kind)) {
          const [fromCli] = w.expand(w.entrySchema.parse({ workload: kind, minBytes: 1200, maxBytes: 1200 }), { root: 2 });
          expect(w.caseId('ws', fromCli!)).toMatch(/\/root2\/r3h1$/);
          expect(CallSchema.parse(callOf(fromCli!)).root).toBe(2);
          const [fromSuite] = w.expand(w.entrySchema.parse({ workload: kind, minBytes: 1200, maxBytes: 1200, root: 1 }), {});
          expect(fromSuite!.root).toBe(1);
          expect(collectiveSupport({ ...fromSuite!, root: 3 })).toMatch(/root 3 is not one of the 3 ranks/);
        } else {
          expect(w.entrySchema.safeParse({ workload: kind, root: 1 }).success).toBe(false);
          const [p] = w.expand(w.entrySchema.parse({ workload: kind, minBytes: 1200, maxBytes: 1200 }), { root: 2 });
          expect(callOf(p!).root).toBeUndefined();
        }
      }
    });
  });

  it('skip in-place all-to-all and send/receive, which NCCL does not have, saying so', async () => {
    await withWorld(4, () => {
      for (const kind of ['alltoall', 'sendrecv'] as const) {
        const w = collectiveWorkload(kind);
        const cases = w.expand(w.entrySchema.parse({ workload: kind, minBytes: 1024, maxBytes: 1024, inPlace: [false, true] }), {});
        expect(cases.map((p) => p.inPlace)).toEqual([false, true]);
        expect(collectiveSupport(cases[0]!)).toBeUndefined();
        expect(collectiveSupport(cases[1]!)).toMatch(/NCCL has no in-place/);
        expect(() => allocateBuffers({ ...callOf(cases[1]!) }, 4, 0)).toThrow(/NCCL has no in-place/);
      }
      for (const kind of ['reduce', 'gather', 'scatter'] as const) expect(collectiveSupport({ kind, ranks: 4, inPlace: true, root: 0 })).toBeUndefined();
    });
  });
});
