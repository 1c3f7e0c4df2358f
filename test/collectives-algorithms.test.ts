/**
 * Every collective and algorithm on the in-process transport, for odd sizes and rank
 * counts, every op and dtype, on fresh random data against the float64 reference; and
 * the f16/bf16 conversions against known bit patterns.
 */
import { describe, expect, it } from 'vitest';
import { inProcessGroup } from '../src/collectives/inprocess.js';
import { COLLECTIVE_DTYPES, elementBytes, F16_TO_F32, fromBf16, toBf16, toF16 } from '../src/collectives/dtypes.js';
import { REDUCE_OPS } from '../src/collectives/ops.js';
import { allocateBuffers, resolveAlgorithm, runCollective, type CollectiveCall } from '../src/collectives/collective.js';
import { checkOutput, prepareRank, rankInput, ReferenceCache } from '../src/collectives/reference.js';
import { bytesOf } from '../src/collectives/dtypes.js';
import { freshSeed } from '../src/harness/random.js';
import { runRankCase } from '../src/collectives/rank-case.js';

/** Runs one call on every rank of an in-process group; returns each rank's check. */
async function runGroup(c: CollectiveCall, ranks: number, seed = freshSeed()) {
  const ts = inProcessGroup(ranks);
  const bufs = ts.map((t) => allocateBuffers(c, ranks, t.rank));
  bufs.forEach((b, r) => prepareRank(c, ranks, r, seed, b));
  await Promise.all(ts.map((t, r) => runCollective(t, c, bufs[r]!)));
  return bufs.map((b, r) => checkOutput(c, ranks, r, seed, b.output));
}

const expectAllPassed = (checks: { passed: boolean; wrong: number }[], what: string) => {
  checks.forEach((ch, r) => expect(ch, `${what} rank ${r}`).toMatchObject({ passed: true, wrong: 0 }));
};

describe('f16 and bf16 conversions', () => {
  it('round to nearest even and keep specials', () => {
    expect(toF16(1)).toBe(0x3c00);
    expect(toF16(65504)).toBe(0x7bff);
    expect(toF16(65520)).toBe(0x7c00); // rounds up to Inf
    expect(toF16(2 ** -24)).toBe(0x0001);
    expect(toF16(-0)).toBe(0x8000);
    expect(toF16(1 + 2 ** -11)).toBe(0x3c00); // tie → even
    expect(toF16(1 + 3 * 2 ** -11)).toBe(0x3c02);
    expect(Number.isNaN(F16_TO_F32[toF16(NaN)]!)).toBe(true);
    expect(toBf16(1)).toBe(0x3f80);
    expect(fromBf16(toBf16(3.14159))).toBeCloseTo(3.140625, 6);
    for (let h = 0; h < 0x7c00; h += 7) expect(toF16(F16_TO_F32[h]!)).toBe(h);
  });
});

describe('all-reduce on the in-process transport', () => {
  for (const algorithm of ['ring', 'halving-doubling', 'recursive-doubling', 'tree', 'linear', 'one-shot', 'auto'])
    for (const ranks of [1, 2, 3, 5, 7])
      it(`${algorithm}, ${ranks} ranks, every op and dtype, odd counts`, async () => {
        for (const dtype of COLLECTIVE_DTYPES)
          for (const op of REDUCE_OPS)
            for (const count of [1, 7, 1001]) {
              const c: CollectiveCall = { kind: 'allreduce', dtype, op, algorithm, count, inPlace: count % 2 === 1 && op !== 'max', chunkBytes: 256 };
              expectAllPassed(await runGroup(c, ranks), `${dtype} ${op} ${count}`);
            }
      });

  for (const ranks of [4, 6, 8])
    it(`halving-doubling, ${ranks} ranks, a large buffer in several slices a step, both placements`, async () => {
      for (const inPlace of [false, true]) {
        const c: CollectiveCall = { kind: 'allreduce', dtype: 'f32', op: 'sum', algorithm: 'halving-doubling', count: 300_001, inPlace, chunkBytes: 16 * 1024 };
        expectAllPassed(await runGroup(c, ranks), `f32 sum ${inPlace ? 'in place' : 'out of place'}`);
      }
    });

  it('ring with a large buffer and several slices per segment, out of place', async () => {
    const c: CollectiveCall = { kind: 'allreduce', dtype: 'f32', op: 'sum', algorithm: 'ring', count: 300_001, inPlace: false, chunkBytes: 16 * 1024 };
    expectAllPassed(await runGroup(c, 4), 'f32 sum');
  });

  it('tree, linear and recursive doubling leave every rank with the same bits', async () => {
    for (const algorithm of ['tree', 'linear', 'recursive-doubling'])
      for (const dtype of ['f32', 'bf16'] as const) {
        const c: CollectiveCall = { kind: 'allreduce', dtype, op: 'sum', algorithm, count: 513, inPlace: false };
        const ts = inProcessGroup(6);
        const seed = freshSeed();
        const bufs = ts.map((t) => allocateBuffers(c, 6, t.rank));
        bufs.forEach((b, r) => prepareRank(c, 6, r, seed, b));
        await Promise.all(ts.map((t, r) => runCollective(t, c, bufs[r]!)));
        for (const b of bufs.slice(1)) expect(Buffer.compare(b.output, bufs[0]!.output), `${algorithm} ${dtype}`).toBe(0);
      }
  });

  it('auto takes the ring from 64 KiB and recursive doubling below; where ranks share cores, the ring from 2 MiB, below 64 KiB the linear one up to 8 ranks, else the tree', () => {
    const call = (bytes: number, cpuBound?: boolean): CollectiveCall => ({ kind: 'allreduce', dtype: 'f32', op: 'sum', algorithm: 'auto', count: bytes / 4, inPlace: false, cpuBound });
    expect(resolveAlgorithm(call(1024), 4)).toBe('recursive-doubling');
    expect(resolveAlgorithm(call(1024, true), 4)).toBe('linear');
    expect(resolveAlgorithm(call(65536 - 4, true), 8)).toBe('linear');
    expect(resolveAlgorithm(call(1024, true), 9)).toBe('tree');
    expect(resolveAlgorithm(call(1024, true))).toBe('tree');
    // Ranks that share cores keep a latency algorithm up to 2 MiB: the tree from 64 KiB.
    expect(resolveAlgorithm(call(65536, true), 4)).toBe('tree');
    expect(resolveAlgorithm(call(2 * 1024 * 1024 - 4, true), 4)).toBe('tree');
    expect(resolveAlgorithm(call(2 * 1024 * 1024, true), 4)).toBe('ring');
    expect(resolveAlgorithm(call(65536 - 4), 4)).toBe('recursive-doubling');
    expect(resolveAlgorithm(call(65536), 4)).toBe('ring');
  });

  it('the check catches a wrong result', async () => {
    const c: CollectiveCall = { kind: 'allreduce', dtype: 'f32', op: 'sum', algorithm: 'ring', count: 100, inPlace: true };
    const seed = freshSeed();
    const out = rankInput(c, 3, 0, seed); // rank 0's input alone is not the sum
    const ch = checkOutput(c, 3, 0, seed, bytesOf(out));
    expect(ch.passed).toBe(false);
    expect(ch.wrong).toBeGreaterThan(50);
  });
});

describe('all-gather, reduce-scatter, broadcast on the in-process transport', () => {
  for (const ranks of [1, 2, 3, 4, 5, 7])
    it(`${ranks} ranks, every dtype, in and out of place`, async () => {
      for (const dtype of COLLECTIVE_DTYPES)
        for (const inPlace of [false, true])
          for (const per of [1, 13, 257]) {
            const count = per * ranks;
            expectAllPassed(await runGroup({ kind: 'allgather', dtype, op: 'sum', algorithm: 'ring', count, inPlace, chunkBytes: 64 }, ranks), `allgather ${dtype}`);
            expectAllPassed(await runGroup({ kind: 'broadcast', dtype, op: 'sum', algorithm: 'auto', count: count + 1, inPlace, root: ranks - 1, chunkBytes: 64 }, ranks), `broadcast ${dtype}`);
            for (const op of REDUCE_OPS)
              expectAllPassed(await runGroup({ kind: 'reducescatter', dtype, op, algorithm: 'ring', count, inPlace, chunkBytes: 64 }, ranks), `reducescatter ${dtype} ${op}`);
          }
    });
});

describe('a rank-side case', () => {
  it('checks on every rank and times with the slowest rank, rank 0 leading', async () => {
    const ts = inProcessGroup(3);
    const c: CollectiveCall = { kind: 'allreduce', dtype: 'f32', op: 'sum', algorithm: 'auto', count: 4096, inPlace: false };
    const opts = { warmupMs: 5, warmupIterations: 2, minTimeMs: 20, minSamples: 3, maxSamples: 10, minSampleMs: 2, maxTimeMs: 5000 };
    const seed = freshSeed();
    const res = await Promise.all(ts.map((t) => runRankCase(t, c, seed, opts)));
    for (const r of res) expect(r.check.passed).toBe(true);
    const lead = res[0]!;
    expect(lead.samplesMs!.length).toBeGreaterThanOrEqual(3);
    expect(lead.perRankSamplesMs!.length).toBe(3);
    lead.samplesMs!.forEach((s, i) => {
      for (const own of lead.perRankSamplesMs!) expect(s).toBeGreaterThanOrEqual(own[i]! - 1e-9);
    });
  });
});

describe('checking every rank of a call in one process', () => {
  it('gives each rank the verdict the per-rank check gives, with inputs made once', async () => {
    const calls: CollectiveCall[] = [
      { kind: 'allreduce', dtype: 'f32', op: 'sum', algorithm: 'ring', count: 3001, inPlace: false },
      { kind: 'allreduce', dtype: 'bf16', op: 'avg', algorithm: 'recursive-doubling', count: 517, inPlace: true },
      { kind: 'reducescatter', dtype: 'f16', op: 'max', algorithm: 'ring', count: 3 * 401, inPlace: false },
      { kind: 'allgather', dtype: 'i32', op: 'sum', algorithm: 'ring', count: 3 * 257, inPlace: true },
      { kind: 'broadcast', dtype: 'f32', op: 'sum', algorithm: 'chain', count: 999, inPlace: false, root: 2 },
      { kind: 'allreduce', dtype: 'i64', op: 'sum', algorithm: 'ring', count: 1001, inPlace: false },
      { kind: 'allreduce', dtype: 'f64', op: 'prod', algorithm: 'tree', count: 333, inPlace: false },
      { kind: 'reducescatter', dtype: 'i8', op: 'avg', algorithm: 'ring', count: 3 * 301, inPlace: false },
      { kind: 'allreduce', dtype: 'fp8e4m3', op: 'sum', algorithm: 'ring', count: 777, inPlace: false },
      { kind: 'allgather', dtype: 'u64', op: 'sum', algorithm: 'ring', count: 3 * 100, inPlace: false },
    ];
    for (const c of calls) {
      const seed = freshSeed();
      const ts = inProcessGroup(3);
      const cache = new ReferenceCache(c, 3, seed);
      const bufs = ts.map((t) => allocateBuffers(c, 3, t.rank));
      bufs.forEach((b, r) => prepareRank(c, 3, r, seed, b, cache.input(r)));
      await Promise.all(ts.map((t, r) => runCollective(t, c, bufs[r]!)));
      // One element of rank 1's output spoiled in an exponent bit (its top byte), far past
      // any rounding bound: both checks must see exactly it.
      const spoiled = bufs[1]!.output;
      const top = elementBytes(c.dtype) - 1;
      spoiled[top] = spoiled[top]! ^ 0x40;
      bufs.forEach((b, r) => {
        const alone = checkOutput(c, 3, r, seed, b.output);
        expect(checkOutput(c, 3, r, seed, b.output, cache), `${c.kind} rank ${r}`).toEqual(alone);
        expect(alone.wrong, `${c.kind} rank ${r}`).toBe(r === 1 ? 1 : 0);
      });
      expect(cache.input(0)).toBe(cache.input(0));
    }
  });
});
