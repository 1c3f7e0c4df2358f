/**
 * The coordinator's side of a case: merging every rank's result (a wrong rank fails the
 * case, times are the slowest rank's), nccl-tests metrics, and the alpha-beta fit.
 */
import { describe, expect, it } from 'vitest';
import '../src/kernels/index.js';
import { mergeRanks } from '../src/collectives/control/cluster-run.js';
import { fitAlphaBeta, fitSweeps } from '../src/collectives/fit.js';
import { callOf, collectiveWorkload, rootSupport, sweepSizes, type CollectiveParams } from '../src/collectives/workload.js';
import { CallSchema } from '../src/collectives/control/protocol.js';
import { withWorld } from './helpers/world.js';
import { DEFAULT_CHUNK_BYTES } from '../src/collectives/algorithms/ring-steps.js';
import type { RankCaseResult } from '../src/collectives/rank-case.js';
import type { PlannedCase } from '../src/harness/plan.js';

const p: CollectiveParams = { kind: 'allreduce', bytes: 1 << 20, count: 1 << 18, dtype: 'f32', op: 'sum', algorithm: 'auto', inPlace: false, ranks: 4, nodes: 1, chunkBytes: 1 << 20 };
const planned: PlannedCase = { id: 'allreduce/ws/f32/sum/auto/1048576', workload: 'allreduce', backend: 'ws', params: p };
const ok = { passed: true, maxRelError: 1e-8, tolerance: 1e-6, wrong: 0, checked: 1 << 18, seed: 7 };
const rank = (r: number, check = ok): RankCaseResult => ({ rank: r, check, algorithm: 'ring', ownSamplesMs: [] });

describe('case ids', () => {
  it('name the pipelining slice only when it is not the default, so a sweep over slices keeps every case', () => {
    const w = collectiveWorkload('allreduce');
    const id = (chunkBytes: number) => w.caseId('ws', { ...p, chunkBytes });
    expect(id(DEFAULT_CHUNK_BYTES)).toBe('allreduce/ws/f32/sum/auto/1048576/r4h1');
    expect(id(1 << 19)).toBe('allreduce/ws/f32/sum/auto/1048576/chunk524288/r4h1');
    expect(new Set([DEFAULT_CHUNK_BYTES, 1 << 19, 1 << 20].map(id)).size).toBe(3);
  });

  it('carry a broadcast root from the suite or --root into the id and the call every rank makes', async () => {
    const w = collectiveWorkload('broadcast');
    const entry = w.entrySchema.parse({ workload: 'broadcast', minBytes: 1024, maxBytes: 1024, root: 1 });
    await withWorld(3, () => {
      const [fromSuite] = w.expand(entry, {});
      expect(w.caseId('ws', fromSuite!)).toBe('broadcast/ws/f32/auto/1024/root1/r3h?');
      const [fromCli] = w.expand(entry, { root: 2 });
      expect(callOf(fromCli!)).toMatchObject({ kind: 'broadcast', root: 2 });
      // The coordinator sends the call to the workers as this schema checks it: the root survives.
      expect(CallSchema.parse(callOf(fromCli!)).root).toBe(2);
      const [rootZero] = w.expand(w.entrySchema.parse({ workload: 'broadcast', minBytes: 1024, maxBytes: 1024 }), {});
      expect(w.caseId('ws', rootZero!)).toBe('broadcast/ws/f32/auto/1024/r3h?');
      // Other collectives have no root: a suite that gives one is refused, --root leaves them be.
      const ar = collectiveWorkload('allreduce');
      expect(ar.entrySchema.safeParse({ workload: 'allreduce', root: 2 }).success).toBe(false);
      const [arp] = ar.expand(ar.entrySchema.parse({ workload: 'allreduce', minBytes: 1024, maxBytes: 1024 }), { root: 2 });
      expect(callOf(arp!).root).toBeUndefined();
      expect(ar.caseId('ws', arp!)).toBe('allreduce/ws/f32/sum/auto/1024/r3h?');
    });
  });

  it('skip a backend whose ranks do not include the root, saying so', () => {
    expect(rootSupport({ root: 3, ranks: 3 })).toBe('root 3 is not one of the 3 ranks (0..2)');
    expect(rootSupport({ root: 2, ranks: 3 })).toBeUndefined();
    expect(rootSupport({ ranks: 1 })).toBeUndefined();
  });
});

describe('merging the ranks of a case', () => {
  it('takes rank 0\'s slowest-rank samples and computes algbw and busbw as nccl-tests', () => {
    const ranks = [0, 1, 2, 3].map((r) => rank(r));
    ranks[0] = { ...ranks[0]!, samplesMs: [2, 4, 3], perRankSamplesMs: [[1, 4, 3], [2, 1, 1], [1, 1, 1], [1, 1, 1]] };
    const res = mergeRanks(planned, p, ranks, ['a', 'a', 'b', 'b']);
    expect(res.status).toBe('ok');
    expect(res.stats!.medianMs).toBe(3);
    expect(res.metrics.algbwGBps).toBeCloseTo((1 << 20) / 1e9 / 3e-3, 12);
    expect(res.metrics.busbwGBps).toBeCloseTo(((1 << 20) / 1e9 / 3e-3) * 1.5, 12);
    expect(res.params).toMatchObject({ ranks: 4, nodes: 2 });
    expect(res.ranks!.map((x) => x.medianMs)).toEqual([3, 1, 1, 1]);
    expect(res.impl?.kernel).toBe('ring');
  });

  it('fails the case when any rank\'s check failed, summing wrong elements', () => {
    const bad = { ...ok, passed: false, maxRelError: 0.5, wrong: 17 };
    const ranks = [rank(0), rank(1), rank(2, bad), rank(3, { ...bad, wrong: 3 })];
    const res = mergeRanks(planned, p, ranks, ['a', 'a', 'a', 'a']);
    expect(res.status).toBe('failed');
    expect(res.check).toMatchObject({ passed: false, wrong: 20, maxRelError: 0.5 });
    expect(res.reason).toMatch(/ranks 2, 3/);
  });
});

describe('alpha-beta fit', () => {
  it('recovers alpha and beta from exact data and sizes sweep like nccl-tests', () => {
    const xs = sweepSizes(8, 64 * 2 ** 20, 2);
    expect(xs[0]).toBe(8);
    expect(xs.at(-1)).toBe(64 * 2 ** 20);
    expect(xs).toHaveLength(24);
    const ts = xs.map((x) => 20e-6 + x * 2e-9);
    const f = fitAlphaBeta(xs, ts);
    expect(f.alpha).toBeCloseTo(20e-6, 10);
    expect(f.beta).toBeCloseTo(2e-9, 14);
    expect(f.maxRelResidual).toBeLessThan(1e-9);
  });

  it('groups ok cases by the algorithm that ran', () => {
    const mk = (bytes: number, ms: number, kernel: string) => ({
      id: `x${bytes}`, workload: 'allreduce' as const, backend: 'ws', device: 'd', params: { bytes, dtype: 'f32', op: 'sum', ranks: 4, inPlace: false, algorithm: 'auto' },
      samplesMs: [ms], metrics: {}, status: 'ok' as const, impl: { kernel },
      stats: { medianMs: ms, meanMs: ms, minMs: ms, maxMs: ms, p10Ms: ms, p90Ms: ms, stddevMs: 0, cv: 0 },
    });
    const fits = fitSweeps([mk(8, 0.1, 'one-shot'), mk(16, 0.1, 'one-shot'), mk(1 << 20, 2, 'ring'), mk(1 << 22, 5, 'ring')]);
    expect(fits.map((f) => [f.algorithm, f.points])).toEqual([['one-shot', 2], ['ring', 2]]);
    const ring = fits[1]!;
    expect(ring.betaNsPerByte).toBeCloseTo((3e-3 / ((1 << 22) - (1 << 20))) * 1e9, 6);
    expect(ring.busbwGBps).toBeCloseTo(ring.algbwGBps! * 1.5, 12);
  });
});
