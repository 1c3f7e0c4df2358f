/**
 * One collective case (all-reduce, all-gather, reduce-scatter, broadcast, reduce, all-to-all, gather, scatter, send/receive) on the local adapters: every adapter a rank in this process over
 * the in-process transport, each rank's buffer in its GPU's memory, slices staged through
 * host memory, reduction in WGSL on the receiving rank's GPU. The checked call poisons
 * every output, then reads every rank's output back and checks it against the float64
 * reference (the same check as the `ws` ranks); timing is the host clock around whole
 * calls of all ranks, staging included, until every GPU's queue has drained.
 */
import type { PreparedCase } from '../../harness/backend.js';
import type { DeviceInfo, Impl } from '../../harness/results/schema.js';
import { allocateBuffers, AUTO_RING_MIN_BYTES, collectiveModule, resolveAlgorithm, type CollectiveCall, type CollectiveKind } from '../collective.js';
import { elementBytes } from '../dtypes.js';
import { inProcessGroup } from '../inprocess.js';
import { checkOutput, prepareRank, ReferenceCache } from '../reference.js';
import type { Transport } from '../transport.js';
import type { CollectiveData } from '../workload.js';
import type { RankDevice } from './adapters.js';
import { GPU_ALLREDUCE_ALGORITHMS, gpuAllReduce, type GpuAllReduceAlgorithm } from './gpu-allreduce.js';
import { gpuAllGather, gpuBroadcast, gpuReduceScatter } from './gpu-collectives.js';
import { gpuAllToAll, gpuGather, gpuScatter, gpuSendRecv } from './gpu-point-to-point.js';
import { GpuRank, type Range } from './gpu-rank.js';
import { gpuReduce } from './gpu-tree-reduce.js';

/**
 * The all-reduce algorithm a call runs on local GPU ranks. `auto`: one-shot below 64 KiB
 * (in one process a message is a queued promise, not a syscall, so one round beats log2 n),
 * ring from there.
 */
export function localAlgorithm(c: Pick<CollectiveCall, 'algorithm' | 'count' | 'dtype'>): GpuAllReduceAlgorithm | undefined {
  if (c.algorithm === 'auto') return c.count * elementBytes(c.dtype) < AUTO_RING_MIN_BYTES ? 'one-shot' : 'ring';
  return (GPU_ALLREDUCE_ALGORITHMS as readonly string[]).includes(c.algorithm) ? (c.algorithm as GpuAllReduceAlgorithm) : undefined;
}

/** The one algorithm local GPU ranks implement for each collective but all-reduce: the CPU module's. */
export const LOCAL_ALGORITHM: Readonly<Record<Exclude<CollectiveKind, 'allreduce'>, string>> = {
  allgather: 'ring',
  reducescatter: 'ring',
  broadcast: 'chain',
  reduce: 'tree',
  alltoall: 'pairwise',
  gather: 'linear',
  scatter: 'linear',
  sendrecv: 'shift',
};

/** The algorithm names a collective takes on local GPU ranks (`auto` first). */
export function localAlgorithms(kind: CollectiveKind): string[] {
  return kind === 'allreduce' ? ['auto', ...GPU_ALLREDUCE_ALGORITHMS] : ['auto', LOCAL_ALGORITHM[kind]];
}

/**
 * The algorithm any collective runs on local GPU ranks, or undefined where none is
 * implemented: all-reduce as `localAlgorithm`, the others `LOCAL_ALGORITHM` (`auto`
 * resolves to those, as on the CPU).
 */
export function localCollectiveAlgorithm(c: Pick<CollectiveCall, 'kind' | 'algorithm' | 'count' | 'dtype'>): string | undefined {
  if (c.kind === 'allreduce') return localAlgorithm(c);
  const a = resolveAlgorithm(c);
  return a === LOCAL_ALGORITHM[c.kind] ? a : undefined;
}

/** One call of the collective on one GPU rank. */
function callOn(t: Transport, g: GpuRank, c: CollectiveCall, algorithm: string): Promise<void> {
  switch (c.kind) {
    case 'allreduce':
      return gpuAllReduce(t, g, c.op, algorithm as GpuAllReduceAlgorithm);
    case 'allgather':
      return gpuAllGather(t, g);
    case 'reducescatter':
      return gpuReduceScatter(t, g, c.op);
    case 'broadcast':
      return gpuBroadcast(t, g, c.root ?? 0, c.chunkBytes);
    case 'reduce':
      return gpuReduce(t, g, c.op, c.root ?? 0, c.chunkBytes);
    case 'alltoall':
      return gpuAllToAll(t, g, c.chunkBytes);
    case 'gather':
      return gpuGather(t, g, c.root ?? 0, c.chunkBytes);
    case 'scatter':
      return gpuScatter(t, g, c.root ?? 0, c.chunkBytes);
    case 'sendrecv':
      return gpuSendRecv(t, g, c.chunkBytes);
  }
}

/**
 * Which of `g`'s buffers holds the bytes the collective's module checks on `rank`: its
 * `checked` asked with two marker buffers (the output for most; a reduce's or gather's
 * non-roots: the input, which must be as it was).
 */
function checkedRange(c: CollectiveCall, n: number, rank: number, g: GpuRank): [GPUBuffer, Range] {
  const marks = { input: new Uint8Array(0), output: new Uint8Array(0) };
  return collectiveModule(c.kind).checked(c, n, rank, marks) === marks.input ? [g.input, g.inputRange] : [g.output, g.outputRange];
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
export function setupLocalAllReduce(devices: RankDevice[], c: CollectiveCall, data: CollectiveData): Promise<PreparedCase> {
  if (c.kind !== 'allreduce') throw new Error(`setupLocalAllReduce: a ${c.kind} call`);
  return setupLocalCollective(devices, c, data);
}

/**
 * Builds a ready-to-time case of any collective over `devices` (one rank each): buffers
 * shaped as `allocateBuffers` makes them, every rank's output checked after the checked
 * call (`data.rankChecks`).
 */
export async function setupLocalCollective(devices: RankDevice[], c: CollectiveCall, data: CollectiveData): Promise<PreparedCase> {
  const n = devices.length;
  const algorithm = localCollectiveAlgorithm(c);
  if (!algorithm) throw new Error(`webgpu-local ${c.kind}: algorithm "${c.algorithm}" not implemented; use ${localAlgorithms(c.kind).join(', ')}`);
  const m = collectiveModule(c.kind);
  if (m.blocks && c.count % n !== 0) throw new Error(`webgpu-local ${c.kind}: ${c.count} elements do not split into ${n} equal blocks`);
  if (c.inPlace && m.noInPlace) throw new Error(`webgpu-local ${c.kind}: ${m.noInPlace}`);
  const root = c.root ?? 0;
  if (m.rooted && !(Number.isInteger(root) && root >= 0 && root < n)) throw new Error(`webgpu-local ${c.kind}: root ${root} is not one of ${n} ranks`);
  const transports: Transport[] = inProcessGroup(n);
  const ranks = devices.map((d, r) => new GpuRank(d, c, n, r));
  const callAll = () => Promise.all(ranks.map((g, i) => callOn(transports[i]!, g, c, algorithm)));
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
        // Only inputs that are data are made (a broadcast's or scatter's non-roots start poisoned).
        const own = m.hasInput(c, r) ? reference.input(r) : undefined;
        prepareRank(c, n, r, data.seed, host, own);
        // In place one host array holds both (gathers: the output; the rest: the input).
        if (!c.inPlace) {
          g.upload(g.input, host.input);
          g.upload(g.output, host.output);
        } else g.upload(g.input, c.kind === 'allgather' || c.kind === 'gather' ? host.output : host.input);
      });
      await callAll();
      data.rankChecks = [];
      for (const [r, g] of ranks.entries()) {
        const out = await g.read(...checkedRange(c, n, r, g));
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
