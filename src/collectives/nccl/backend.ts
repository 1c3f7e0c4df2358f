/**
 * The `nccl` backend, through the native addon (which loads libcuda and libnccl at run
 * time). Two shapes:
 *
 * - In a run without a world: all-reduce over every local GPU, one rank per GPU in this one
 *   process (ncclCommInitAll). The probe declares the rank count so the sweep and busbw
 *   (nccl-tests' 2(n−1)/n) are planned for the local GPUs.
 * - In a multi-process run (`--local-nodes N`, or `gpubench coordinator` with workers):
 *   every worker is one rank on one GPU (ncclCommInitRank), bootstrapped by gpubench's
 *   control plane (comm.ts), running every collective nccl-tests measures in every NCCL
 *   dtype (dtypes.ts).
 *   The coordinator sends the cases to the workers as it does `ws` cases.
 *
 * Without a world the probe reuses the `cuda` backend's stack (`cudaStack()`), so a missing
 * driver or NCCL becomes the reason ("libnccl.so.2 not found: …"). In a world every worker
 * probes its own NCCL and GPUs at start and reports them at hello; the coordinator plans
 * from those (world-probe.ts): available when every worker has NCCL, else the reason names
 * the ranks and hosts lacking it with their own reasons; the memory check uses the smallest
 * GPU a worker will drive. The coordinator itself needs no GPU or NCCL.
 */
import type { Backend, ProbeResult } from '../../harness/backend.js';
import type { DeviceInfo } from '../../harness/results/schema.js';
import { registerBackend, registerKernel } from '../../harness/registry.js';
import { cudaStack, deviceInfo } from '../../kernels/cuda/context.js';
import { NCCL_OPS, ncclVersionString } from '../../kernels/cuda/nccl.js';
import { COLLECTIVES, type CollectiveKind } from '../collective.js';
import { callOf, collectiveSupport, type CollectiveData, type CollectiveParams } from '../workload.js';
import { currentWorld, setLocalRanks } from '../world.js';
import { ncclDtypeSupport, ncclFp8DeviceSupport, setNcclVersion } from './dtypes.js';
import { worldNcclProbe } from './world-probe.js';
import { NCCL_ALGORITHM_REASON, ncclAllReduceSupport, ncclBufferBytes, ncclNotes, setupNcclAllReduce } from './allreduce-case.js';

export const NCCL = 'nccl';

/**
 * The collectives the `nccl` backend runs across processes, one rank per worker: NCCL's
 * own calls, and nccl-tests' ncclSend/ncclRecv groups for alltoall, gather, scatter and
 * sendrecv (native/src/nccl_comm.cc).
 */
export const NCCL_RANK_KINDS: readonly CollectiveKind[] = ['allreduce', 'allgather', 'reducescatter', 'broadcast', 'reduce', 'alltoall', 'gather', 'scatter', 'sendrecv'];

/** Notes on a multi-process nccl run. */
function worldNotes(ranks: number): string[] {
  return [`${ranks} ranks in worker processes, one GPU each (ncclCommInitRank; a process's several ranks in one ncclGroupStart/End), the ncclUniqueId handed from rank 0 over gpubench's control plane; NCCL's own algorithm and protocol`];
}

export const ncclBackend: Backend = {
  id: NCCL,
  title: 'NCCL: one process over every local GPU, or one GPU per worker process of a multi-process run (native addon)',
  async probe(): Promise<ProbeResult> {
    const world = currentWorld();
    if (world) {
      // Planned from the workers' own probes (world-probe.ts): the coordinator needs no GPU or NCCL.
      const { versionCode, ...probe } = worldNcclProbe(world.ranks, world.workers);
      setNcclVersion(versionCode);
      return probe.available ? { ...probe, notes: [...(probe.notes ?? []), ...worldNotes(world.ranks)] } : probe;
    }
    const s = await cudaStack();
    const reason = !s.ok ? s.reason : !s.stack.nccl.ok ? s.stack.nccl.reason : undefined;
    const stack = s.ok ? s.stack : undefined;
    const found = stack?.nccl.ok ? `NCCL ${ncclVersionString(stack.nccl.version)}: ${stack.nccl.path}` : undefined;
    setNcclVersion(stack?.nccl.ok ? stack.nccl.version : undefined);
    if (!stack || !found) return { available: false, reason: reason ?? 'NCCL unavailable' };
    setLocalRanks(NCCL, stack.devices.length);
    return { available: true, devices: stack.devices.map((d) => deviceInfo(stack, d, NCCL)), notes: [found, ...ncclNotes(stack.devices.length)] };
  },
  dispose() {
    // Communicators belong to cases (one process) or to the workers (a world); only the rank count is ours.
    setLocalRanks(NCCL, undefined);
    return Promise.resolve();
  },
};

/**
 * Why a case cannot run on the `nccl` backend across processes (one GPU per worker), or
 * undefined. Pure: checked while planning. `devices` are the GPUs the workers reported
 * they will drive (world-probe.ts), for the memory check against the smallest and fp8's
 * compute capability.
 */
export function ncclRankSupport(p: CollectiveParams, devices: (Pick<DeviceInfo, 'memoryBytes'> & Partial<Pick<DeviceInfo, 'name' | 'limits' | 'architecture'>>)[]): string | undefined {
  if (!NCCL_RANK_KINDS.includes(p.kind)) return `nccl runs ${NCCL_RANK_KINDS.join(', ')} across processes, not ${p.kind}`;
  if (p.algorithm !== 'auto') return `algorithm "${p.algorithm}": ${NCCL_ALGORITHM_REASON}`;
  const dtype = ncclDtypeSupport(p.dtype) ?? ncclFp8DeviceSupport(p, devices);
  if (dtype) return dtype;
  if (!(NCCL_OPS as readonly string[]).includes(p.op)) return `nccl has no op "${p.op}" (it has ${NCCL_OPS.join(', ')})`;
  if (!Number.isInteger(p.count) || p.count < 1) return 'count must be a positive integer';
  const placement = collectiveSupport(p);
  if (placement) return placement;
  const need = ncclBufferBytes(p);
  const room = Math.min(...devices.map((d) => d.memoryBytes ?? Infinity)) * 0.8;
  if (need > room) return `needs ${(need / 2 ** 30).toFixed(1)} GiB per GPU for ${p.inPlace ? 'one buffer' : 'send and receive buffers'}; the smallest GPU has room for ${(room / 2 ** 30).toFixed(1)} GiB`;
  return undefined;
}

// Below `cuda` (90), above the WebGPU and WebSocket collectives.
registerBackend(ncclBackend, 80);
for (const workload of COLLECTIVES) {
  if (!NCCL_RANK_KINDS.includes(workload)) continue;
  const inOneProcess = workload === 'allreduce';
  registerKernel<CollectiveParams, CollectiveData>({
    workload,
    backend: NCCL,
    supports: (p, devices) =>
      currentWorld()
        ? ncclRankSupport(p, devices)
        : inOneProcess
          ? ncclAllReduceSupport(p, devices)
          : `nccl runs ${workload} across processes, one GPU per worker: run with --local-nodes N, or gpubench coordinator with workers (in one process it runs allreduce)`,
    async setup(p, data) {
      // Only a run without a world gets here: a world's cases run on the workers.
      if (!inOneProcess || currentWorld()) throw new Error(`nccl ${workload} runs on every worker through the control plane, not in one process`);
      const s = await cudaStack();
      if (!s.ok) throw new Error(s.reason);
      const { stack } = s;
      if (!stack.nccl.ok) throw new Error(stack.nccl.reason);
      return setupNcclAllReduce(callOf(p), data, stack.devices.map((d) => d.name), stack.nccl.version, stack);
    },
  });
}
