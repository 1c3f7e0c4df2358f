import { describe, expect, it } from 'vitest';
import { findGpu, loadGpuCatalog } from '../src/estimate/catalog.js';
import { collectiveTime, type Fabric } from '../src/estimate/comm.js';
import { parameterCount, resolveModel, stepFlops, type ResolvedModel } from '../src/estimate/flops.js';
import type { ModelSpec, TrainingSpec } from '../src/estimate/inputs.js';
import { extractMeasurements } from '../src/estimate/measured.js';
import { DEFAULT_PARAMS, type EfficiencyParams } from '../src/estimate/params.js';
import { resolveFabric, resolveTraining } from '../src/estimate/resolve.js';
import { networkWattsPerGpu, sizeSite } from '../src/estimate/site.js';
import { estimateStep } from '../src/estimate/step.js';
import type { MeasuredGemm } from '../src/estimate/gemm.js';

const cat = loadGpuCatalog();
const h100 = findGpu(cat, 'H100-SXM5-80GB');
const dsv3: ModelSpec = {
  arch: 'llama', layers: 61, hidden: 7168, heads: 128, kvHeads: 128, ffnHidden: 18432, vocab: 129280, seqLength: 4096,
  moe: { experts: 256, topK: 8, expertFfnHidden: 2048, sharedExperts: 1, denseLayers: 3, capacityFactor: 1 },
};
const llama8b = resolveModel({ arch: 'llama', layers: 32, hidden: 4096, heads: 32, kvHeads: 8, ffnHidden: 14336, vocab: 128256, seqLength: 8192 });

function run(model: ResolvedModel, spec: TrainingSpec, gpus: number, opts: { params?: EfficiencyParams; fabric?: Fabric; gemms?: MeasuredGemm[] } = {}) {
  const assumed: string[] = [];
  const params = opts.params ?? DEFAULT_PARAMS;
  const training = resolveTraining(spec, gpus, h100, model.heads, model.layers, assumed, 'training', false, model.moe?.experts);
  const fabric = opts.fabric ?? resolveFabric(h100, 8, {}, params, assumed);
  return estimateStep({ model, training, gpu: h100, gpus, fabric, params, measuredGemms: opts.gemms ?? [] });
}
const moe = (over: Partial<NonNullable<ModelSpec['moe']>> = {}) => resolveModel({ ...dsv3, moe: { ...dsv3.moe!, ...over } });
const moeRun: TrainingSpec = { globalBatchSequences: 1024, microBatch: 1, tp: 1, pp: 8, ep: 32, virtualStages: 1, recompute: 'full', attention: 'flash', distributedOptimizer: true };

describe('mixture of experts', () => {
  it('counts total and active parameters (DeepSeek-V3 shapes: about 671B total, 37B active)', () => {
    const pc = parameterCount(moe());
    // Attention is approximated (no MLA), so within 15%.
    expect(pc.total / 671e9).toBeGreaterThan(0.85);
    expect(pc.total / 671e9).toBeLessThan(1.15);
    expect(pc.active / 37e9).toBeGreaterThan(0.85);
    expect(pc.active / 37e9).toBeLessThan(1.15);
  });

  it('model FLOPs follow the active parameters: ≈ 6·N_active per token plus attention', () => {
    const m = moe();
    const pc = parameterCount(m);
    const fl = stepFlops(m, 1, 'none');
    const perToken = fl.model / m.seqLength;
    expect(perToken / (6 * pc.active)).toBeGreaterThan(1);
    expect(perToken / (6 * pc.active)).toBeLessThan(1.25);
    // Capacity padding is not model FLOPs.
    expect(stepFlops(moe({ capacityFactor: 1.5 }), 1, 'none').model).toBe(fl.model);
  });

  it('more experts active per token (top-k) → slower step and more model FLOPs', () => {
    const k2 = run(moe({ topK: 2 }), moeRun, 2048);
    const k8 = run(moe({ topK: 8 }), moeRun, 2048);
    expect(k8.stepSeconds).toBeGreaterThan(k2.stepSeconds);
    expect(k8.flops.model).toBeGreaterThan(k2.flops.model);
    expect(k8.breakdown.epComm).toBeGreaterThan(k2.breakdown.epComm);
  });

  it('the same active compute split over more, smaller experts runs smaller grouped GEMMs: not faster', () => {
    const few = run(moe({ experts: 64, topK: 2, expertFfnHidden: 8192, sharedExperts: 0 }), moeRun, 2048);
    const many = run(moe({ experts: 256, topK: 8, expertFfnHidden: 2048, sharedExperts: 0 }), moeRun, 2048);
    expect(many.flops.model / few.flops.model).toBeCloseTo(1, 2); // only the router grows
    expect(many.breakdown.gemm).toBeGreaterThan(few.breakdown.gemm);
    const slowGrouped = run(moe(), moeRun, 2048, { params: { ...DEFAULT_PARAMS, groupedGemmEfficiency: 0.7 } });
    expect(slowGrouped.breakdown.gemm).toBeGreaterThan(run(moe(), moeRun, 2048).breakdown.gemm);
  });

  it('a higher capacity factor costs compute and all-to-all time', () => {
    const cf1 = run(moe({ capacityFactor: 1 }), moeRun, 2048);
    const cf2 = run(moe({ capacityFactor: 2 }), moeRun, 2048);
    expect(cf2.stepSeconds).toBeGreaterThan(cf1.stepSeconds);
    // Twice the bytes; the latency term does not double.
    expect(cf2.breakdown.epComm / cf1.breakdown.epComm).toBeGreaterThan(1.9);
    expect(cf2.breakdown.epComm / cf1.breakdown.epComm).toBeLessThanOrEqual(2);
  });

  it('more expert parallelism shards the experts: less memory per GPU; an overlapping schedule hides the all-to-all', () => {
    const ep8 = run(moe(), { ...moeRun, ep: 8 }, 2048);
    const ep64 = run(moe(), { ...moeRun, ep: 64 }, 2048);
    // Routed experts are most of the weights; attention and embeddings are not sharded by ep.
    expect(ep64.memory.weightsGB).toBeLessThan(ep8.memory.weightsGB * 0.6);
    const plain = run(moe(), moeRun, 2048);
    const hidden = run(moe(), { ...moeRun, epCommOverlap: true }, 2048);
    expect(hidden.breakdown.epComm).toBeLessThan(plain.breakdown.epComm);
    expect(hidden.stepSeconds).toBeLessThan(plain.stepSeconds);
    // The overlap parameter only acts where the schedule overlaps.
    expect(run(moe(), moeRun, 2048, { params: { ...DEFAULT_PARAMS, epOverlap: 0.2 } }).stepSeconds).toBe(plain.stepSeconds);
  });

  it('all-to-all: NVLink inside a node, the NIC across nodes, a measured all-to-all replaces both', () => {
    const fabric = resolveFabric(h100, 8, {}, DEFAULT_PARAMS, []);
    const S = 256e6;
    const intra = collectiveTime('alltoall', S, 8, 1, fabric);
    const inter = collectiveTime('alltoall', S, 64, 1, fabric);
    expect(intra).toBeGreaterThan(0);
    expect(inter).toBeGreaterThan(intra);
    const measured = extractMeasurements([results([
      { workload: 'alltoall', ranks: 64, nodes: 8, busbwGBps: 10 },
      { workload: 'allgather', ranks: 16, nodes: 2, busbwGBps: 20 },
    ])]);
    expect(measured.ops.alltoall?.inter?.busbwGBps).toBe(10);
    expect(measured.ops.allgather?.inter?.busbwGBps).toBe(20 / 8);
    const fm = resolveFabric(h100, 8, {}, DEFAULT_PARAMS, [], measured);
    // One step of latency: NCCL posts the n−1 sends and receives of an all-to-all at once.
    expect(collectiveTime('alltoall', S, 64, 1, fm)).toBeCloseTo(fm.ops!.alltoall!.inter!.latencyUs * 1e-6 + (S * 63) / 64 / 10e9, 9);
    // All-reduce is untouched by the all-to-all measurement.
    expect(collectiveTime('allreduce', S, 64, 1, fm)).toBe(collectiveTime('allreduce', S, 64, 1, fabric));
  });
});

describe('FSDP / ZeRO-3', () => {
  const base: TrainingSpec = { globalBatchSequences: 256, microBatch: 1, tp: 1, pp: 1, recompute: 'full', attention: 'flash' };
  it('memory per GPU: FSDP < distributed optimizer < replicated, and it shrinks as dp grows', () => {
    const rep = run(llama8b, { ...base, distributedOptimizer: false }, 64);
    const zero1 = run(llama8b, { ...base, distributedOptimizer: true }, 64);
    const fsdp = run(llama8b, { ...base, fsdp: true }, 64);
    expect(zero1.memory.totalGB).toBeLessThan(rep.memory.totalGB);
    expect(fsdp.memory.totalGB).toBeLessThan(zero1.memory.totalGB);
    expect(run(llama8b, { ...base, fsdp: true }, 256).memory.weightsGB).toBeLessThan(fsdp.memory.weightsGB);
  });

  it('gathers and scatters cost time only where compute cannot hide them', () => {
    const hidden = run(llama8b, { ...base, fsdp: true }, 64);
    const none = run(llama8b, { ...base, fsdp: true }, 64, { params: { ...DEFAULT_PARAMS, fsdpOverlap: 0 } });
    expect(none.breakdown.fsdpComm).toBeGreaterThan(0);
    expect(none.stepSeconds).toBeGreaterThan(hidden.stepSeconds);
    expect(hidden.breakdown.fsdpComm).toBeLessThan(none.breakdown.fsdpComm);
    expect(none.breakdown.dpComm).toBe(0); // the gradients were reduce-scattered inside the layers
  });

  it('a measured all-gather / reduce-scatter replaces alpha-beta: a slower fabric is a slower step', () => {
    const p0 = { ...DEFAULT_PARAMS, fsdpOverlap: 0 };
    const plain = resolveFabric(h100, 8, {}, p0, []);
    const slow = resolveFabric(h100, 8, {}, p0, [], extractMeasurements([results([
      { workload: 'allgather', ranks: 16, nodes: 2, busbwGBps: 40 },
      { workload: 'reducescatter', ranks: 16, nodes: 2, busbwGBps: 40 },
    ])]));
    const a = run(llama8b, { ...base, fsdp: true }, 64, { params: p0, fabric: plain });
    const b = run(llama8b, { ...base, fsdp: true }, 64, { params: p0, fabric: slow });
    expect(b.breakdown.fsdpComm).toBeGreaterThan(a.breakdown.fsdpComm);
  });
});

describe('fp8 training', () => {
  const spec: TrainingSpec = { globalBatchSequences: 512, microBatch: 1, tp: 4, pp: 2, recompute: 'none', attention: 'flash', distributedOptimizer: true };
  it('linear layers in fp8: faster than bf16, but less than the 2× of the peaks (attention, casts and communication stay)', () => {
    const bf16 = run(llama8b, { ...spec, precision: 'bf16' }, 256);
    const fp8 = run(llama8b, { ...spec, precision: 'fp8' }, 256);
    expect(fp8.stepSeconds).toBeLessThan(bf16.stepSeconds);
    expect(bf16.stepSeconds / fp8.stepSeconds).toBeLessThan(2);
    expect(fp8.breakdown.attention).toBeCloseTo(bf16.breakdown.attention, 9);
    expect(fp8.breakdown.elementwise).toBeGreaterThan(bf16.breakdown.elementwise); // the casts
    expect(fp8.mfu).toBeGreaterThan(bf16.mfu); // MFU stays against the 16-bit peak
  });

  it('a measured fp8 GEMM sets the rate: a faster measurement, a faster step', () => {
    const g = (tflops: number): MeasuredGemm[] => [{ m: 8192, n: 8192, k: 8192, precision: 'fp8', tflops, caseId: 'x' }];
    const slow = run(llama8b, { ...spec, precision: 'fp8' }, 256, { gemms: g(1000) });
    const fast = run(llama8b, { ...spec, precision: 'fp8' }, 256, { gemms: g(1500) });
    expect(slow.gemmSource).toBe('measured');
    expect(fast.stepSeconds).toBeLessThan(slow.stepSeconds);
  });
});

describe('site: network power and PUE', () => {
  it('network watts per GPU = (2·tiers − 1) switch ports + 2·tiers transceivers; more tiers, more watts; added to all-in', () => {
    expect(networkWattsPerGpu({ tiers: 3, switchWattsPerPort: 10, transceiverWatts: 8 })).toBe(5 * 10 + 6 * 8);
    expect(networkWattsPerGpu({ tiers: 4, switchWattsPerPort: 10, transceiverWatts: 8 })).toBeGreaterThan(networkWattsPerGpu({ tiers: 3, switchWattsPerPort: 10, transceiverWatts: 8 }));
    const base = { gpuWatts: 700, nodeOverheadWatts: 4600, perGpuInfraWatts: 25, pue: 1.2, gpusPerNode: 8, gpusPerRack: 32 };
    const without = sizeSite(1e9, base, 1);
    const withNet = sizeSite(1e9, { ...base, networkWattsPerGpu: 98 }, 1);
    expect(withNet.allInWattsPerGpu - without.allInWattsPerGpu).toBe(98);
    expect(withNet.gpus).toBeLessThan(without.gpus);
    expect(sizeSite(1e9, { ...base, pue: 1.5 }, 1).gpus).toBeLessThan(without.gpus);
  });
});

/** A minimal results file with one ok case per collective given. */
function results(cases: { workload: string; ranks: number; nodes: number; busbwGBps: number }[]) {
  return {
    schema: 'gpubench.results/v1',
    devices: [{ name: 'NVIDIA H100 80GB HBM3' }],
    cases: cases.map((c, i) => ({ id: `${c.workload}/${i}`, workload: c.workload, status: 'ok', params: { bytes: 1 << 30, ranks: c.ranks, nodes: c.nodes }, metrics: { busbwGBps: c.busbwGBps } })),
  } as never;
}
