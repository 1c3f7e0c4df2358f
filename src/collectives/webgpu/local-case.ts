/**
 * One collective case on the local adapters: every adapter a rank in this process over
 * the in-process transport, each rank's buffer in its GPU's memory, slices staged through
 * host memory, reduction in WGSL on the receiving rank's GPU. The checked call poisons
 * every output, then reads every rank's output back and checks it against the float64
 * reference (the same check as the `ws` ranks); timing is the host clock around whole
 * calls of all ranks, staging included, until every GPU's queue has drained.
 */
import type { PreparedCase } from '../../harness/backend.js';
import type { DeviceInfo, Impl } from '../../harness/results/schema.js';
import { allocateBuffers, AUTO_RING_MIN_BYTES, type CollectiveCall } from '../collective.js';
import { elementBytes } from '../dtypes.js';
import { inProcessGroup } from '../inprocess.js';
import { checkOutput, prepareRank, ReferenceCache } from '../reference.js';
import type { Transport } from '../transport.js';
import type { CollectiveData } from '../workload.js';
import type { RankDevice } from './adapters.js';
import { GPU_ALLREDUCE_ALGORITHMS, GpuRank, gpuAllReduce, type GpuAllReduceAlgorithm } from './gpu-allreduce.js';

/** The algorithm a call runs on local GPU ranks (`auto`: one-shot below 64 KiB, ring from there). */
export function localAlgorithm(c: Pick<CollectiveCall, 'algorithm' | 'count' | 'dtype'>): GpuAllReduceAlgorithm | undefined {
  if (c.algorithm === 'auto') return c.count * elementBytes(c.dtype) < AUTO_RING_MIN_BYTES ? 'one-shot' : 'ring';
  return (GPU_ALLREDUCE_ALGORITHMS as readonly string[]).includes(c.algorithm) ? (c.algorithm as GpuAllReduceAlgorithm) : undefined;
}

/** Notes every local case carries: what the ranks are and what that means for the figures. */
export function localNotes(devices: DeviceInfo[]): string[] {
  const n = devices.length;
  const notes = [
    `${n} local WebGPU adapter${n === 1 ? '' : 's'} as ${n} rank${n === 1 ? '' : 's'} in one process: in-process transport, slices staged through host memory, reduction in WGSL on the receiving GPU`,
  ];
  if (n === 1)
    notes.push('one adapter, so one rank: no data moves between GPUs; algbw is the single rank\'s call rate, busbw = algbw × 2(n−1)/n = 0');
  if (devices.some((d) => d.software)) notes.push('software adapter: the "GPU" is the CPU, numbers measure the CPU');
  return notes;
}

/** Builds a ready-to-time all-reduce case over `devices` (one rank each). */
export async function setupLocalAllReduce(devices: RankDevice[], c: CollectiveCall, data: CollectiveData): Promise<PreparedCase> {
  const n = devices.length;
  const algorithm = localAlgorithm(c);
  if (!algorithm) throw new Error(`webgpu-local all-reduce: algorithm "${c.algorithm}" not implemented; use ${['auto', ...GPU_ALLREDUCE_ALGORITHMS].join(', ')}`);
  const transports: Transport[] = inProcessGroup(n);
  const ranks = devices.map((d) => new GpuRank(d, c.dtype, c.count, c.inPlace));
  const callAll = () => Promise.all(ranks.map((g, i) => gpuAllReduce(transports[i]!, g, c.op, algorithm)));
  const settle = () => Promise.all(ranks.map((g) => g.settle()));
  const names = [...new Set(devices.map((d) => d.info.name))];
  const impl: Impl = {
    kernel: algorithm,
    config: { transport: 'in-process', staging: 'host', reduction: 'wgsl', ranks: n },
    notes: localNotes(devices.map((d) => d.info)),
  };
  return {
    device: `${n} rank${n === 1 ? '' : 's'}: ${names.join(', ')}${n > 1 && names.length === 1 ? ` ×${n}` : ''}`,
    timer: 'wall-clock',
    impl,
    async runChecked() {
      // Fresh inputs from the seed on every rank, outputs poisoned, uploaded to each GPU;
      // each input is made once, for its upload and for every rank's check.
      const reference = new ReferenceCache(c, n, data.seed);
      ranks.forEach((g, r) => {
        const host = allocateBuffers(c, n, r);
        prepareRank(c, n, r, data.seed, host, reference.input(r));
        g.upload(g.input, host.input);
        if (!c.inPlace) g.upload(g.output, host.output);
      });
      await callAll();
      data.rankChecks = [];
      for (const [r, g] of ranks.entries()) {
        const out = await g.read(g.output, [0, c.count]);
        data.rankChecks.push(checkOutput(c, n, r, data.seed, out, reference));
      }
      return new Float64Array(0);
    },
    async time(iterations) {
      await settle();
      const t0 = performance.now();
      for (let i = 0; i < iterations; i++) await callAll();
      await settle();
      return performance.now() - t0;
    },
    dispose() {
      for (const g of ranks) g.destroy();
      for (const t of transports) void t.close();
      return Promise.resolve();
    },
  };
}
