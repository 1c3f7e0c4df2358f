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
 * The probe reuses the `cuda` backend's stack (`cudaStack()`), so a missing driver or NCCL
 * becomes the reason ("libnccl.so.2 not found: …"). In a world the coordinator plans from
 * its own stack (its GPUs for the memory check), so it runs on a GPU node: `--local-nodes`
 * workers share its host anyway, and a coordinator without NCCL would otherwise send nccl
 * cases to workers that may have none. Each worker loads its own NCCL when its
 * communicator comes up; a worker without one fails the run, saying why.
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
  return [`${ranks} worker processes, one GPU each (ncclCommInitRank), the ncclUniqueId handed from rank 0 over gpubench's control plane; NCCL's own algorithm and protocol`];
}

export const ncclBackend: Backend = {
  id: NCCL,
  title: 'NCCL: one process over every local GPU, or one GPU per worker process of a multi-process run (native addon)',
  async probe(): Promise<ProbeResult> {
    const world = currentWorld();
    const s = await cudaStack();
    const reason = !s.ok ? s.reason : !s.stack.nccl.ok ? s.stack.nccl.reason : undefined;
    const stack = s.ok ? s.stack : undefined;
    const found = stack?.nccl.ok ? `NCCL ${ncclVersionString(stack.nccl.version)}: ${stack.nccl.path}` : undefined;
    setNcclVersion(stack?.nccl.ok ? stack.nccl.version : undefined);
    if (world) {
      if (stack && found) return { available: true, devices: stack.devices.map((d) => deviceInfo(stack, d, NCCL)), notes: [found, ...worldNotes(world.ranks)] };
      // The coordinator plans from its own stack: a run that names no backend must not send
      // nccl cases to workers that may have no GPU either (run it on a GPU node).
      return { available: false, reason: `${reason ?? 'NCCL unavailable'} (the coordinator plans nccl cases from its own NCCL: run it on one of the GPU nodes)` };
    }
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
 * undefined. Pure: checked while planning. `devices` are the coordinator's GPUs where it
 * has them (its local workers' GPUs), for the memory check and fp8's compute capability;
 * none for remote workers.
 */
export function ncclRankSupport(p: CollectiveParams, devices: (Pick<DeviceInfo, 'memoryBytes'> & Partial<Pick<DeviceInfo, 'name' | 'limits'>>)[]): string | undefined {
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
