/**
 * The `webgpu-local` backend: the WebGPU adapters of this machine as the ranks of one
 * process (design: "Local GPUs of one node"). Each distinct adapter Dawn exposes gets a
 * device and is one rank over the in-process transport; with one adapter it runs as one
 * rank and says so (busbw is 0 for n = 1 by nccl-tests' definition). It implements
 * all-reduce (ring, one-shot, recursive doubling), all-gather and reduce-scatter (ring),
 * broadcast (chain), reduce (binomial tree), all-to-all (pairwise), gather and scatter
 * (linear) and send/receive (ring shift): every collective nccl-tests has. In a multi-process run (`--local-nodes`, `gpubench coordinator`) it stands
 * aside: those runs measure the ranks of the world, not this process's adapters.
 */
import type { Backend } from '../../harness/backend.js';
import type { DeviceInfo } from '../../harness/results/schema.js';
import { registerBackend, registerKernel } from '../../harness/registry.js';
import { noAdapterReason } from '../../kernels/webgpu/dawn.js';
import { callOf, collectiveSupport, type CollectiveData, type CollectiveParams } from '../workload.js';
import { currentWorld, setLocalRanks } from '../world.js';
import { closeRanks, findLocalAdapters, openRankDevices, type LocalAdapters, type RankDevice } from './adapters.js';
import { localAlgorithms, localCollectiveAlgorithm, localNotes, setupLocalCollective } from './local-case.js';
import { wgslUnsupported } from '../gpu-reduce.js';
import { COLLECTIVES } from '../collective.js';

export const WEBGPU_LOCAL = 'webgpu-local';

let found: Promise<LocalAdapters> | undefined;
let opened: Promise<RankDevice[]> | undefined;

/** Finds (once) the local adapters. */
export function localAdapters(): Promise<LocalAdapters> {
  found ??= findLocalAdapters();
  return found;
}

/** Opens (once) a device on every local adapter: the ranks. */
export function localRanks(): Promise<RankDevice[]> {
  opened ??= localAdapters().then((a) => openRankDevices(a.adapters));
  return opened;
}

export const webgpuLocalBackend: Backend = {
  id: WEBGPU_LOCAL,
  title: 'collectives across the local WebGPU adapters of this machine, one rank each in one process (staged through host memory, WGSL reduction)',
  async probe() {
    if (currentWorld())
      return { available: false, reason: 'a multi-process run measures its worker ranks; local adapters run as ranks in a run without --local-nodes or a coordinator' };
    try {
      const { adapters, notes } = await localAdapters();
      if (adapters.length === 0) return { available: false, reason: noAdapterReason() };
      setLocalRanks(WEBGPU_LOCAL, adapters.length);
      return { available: true, devices: adapters.map((r) => r.info), notes: [...localNotes(adapters.map((a) => a.info)), ...notes] };
    } catch (err) {
      return { available: false, reason: noAdapterReason(err instanceof Error ? err.message : String(err)) };
    }
  },
  async dispose() {
    const pendingFound = found;
    const pendingOpened = opened;
    found = opened = undefined;
    setLocalRanks(WEBGPU_LOCAL, undefined);
    const devices = await pendingOpened?.catch(() => undefined);
    if (await pendingFound?.catch(() => undefined)) closeRanks(devices ?? []);
  },
};

// Below `ws` (−10): where both run, the multi-process cases come first.
registerBackend(webgpuLocalBackend, -20);
/**
 * Why local adapters cannot run a case, or undefined: WGSL has no bf16 (nor 8- or 64-bit or fp8 types), f16 needs
 * shader-f16 on every adapter, a root must be one of the ranks, all-to-all and send/receive
 * have no in-place form (as in NCCL), and the largest buffer of a rank (S itself: the
 * all-reduce, broadcast, reduce, all-to-all and send/receive buffers, the gathered output,
 * the scattered input) is one storage binding, so it must fit every adapter's limits.
 */
export function localSupports(p: CollectiveParams, devices: DeviceInfo[]): string | undefined {
  const wgsl = wgslUnsupported(p.dtype);
  if (wgsl) return wgsl;
  if (!localCollectiveAlgorithm(p)) return `algorithm "${p.algorithm}" is not implemented on local adapters (${localAlgorithms(p.kind).join(', ')} are)`;
  if (p.dtype === 'f16' && !devices.every((d) => d.features?.includes('shader-f16'))) return 'an adapter lacks shader-f16';
  const placement = collectiveSupport(p);
  if (placement) return placement;
  const limit = Math.min(...devices.map((d) => Math.min(d.limits?.maxStorageBufferBindingSize ?? Infinity, d.limits?.maxBufferSize ?? Infinity)));
  if (p.bytes > limit) return `${p.bytes} bytes exceed an adapter's largest storage buffer (${limit} bytes)`;
  return undefined;
}

/** The collectives local adapters run: all of them. */
export const WEBGPU_LOCAL_COLLECTIVES = COLLECTIVES;

for (const workload of WEBGPU_LOCAL_COLLECTIVES)
  registerKernel<CollectiveParams, CollectiveData>({
    workload,
    backend: WEBGPU_LOCAL,
    supports: localSupports,
    async setup(p, data) {
      return setupLocalCollective(await localRanks(), callOf(p), data);
    },
  });
