/**
 * The `nccl` backend in a multi-process world is planned from the workers, not from the
 * coordinator's host: every worker probes NCCL where it runs (its driver, its GPUs, its
 * libnccl) when it starts and reports the answer in its hello (`probeNcclOnWorker`); the
 * coordinator then says the backend is available in the world only when every worker has
 * it, and otherwise names each worker lacking it with its own reason
 * (`rank 2 (node-c): libnccl.so.2 not found: …`). The GPUs the workers will drive are the
 * world's devices: the smallest one bounds the case sizes (`ncclRankSupport`'s memory check).
 * A coordinator thus needs neither a GPU nor NCCL.
 */
import type { ProbeResult } from '../../harness/backend.js';
import type { DeviceInfo } from '../../harness/results/schema.js';
import { cudaStack } from '../../kernels/cuda/context.js';
import { ncclVersionString } from '../../kernels/cuda/nccl.js';
import type { WorkerBackendProbe } from '../control/protocol.js';
import type { WorldWorker } from '../world.js';

/** The backend id this file probes for. */
const NCCL = 'nccl';

/**
 * The GPUs a worker's `gpus` ranks drive: GPUBENCH_CUDA_DEVICE where set (one ordinal, or a
 * comma-separated list of `gpus` ordinals), else local rank × gpus + i (the launcher's
 * local rank counts processes), else 0 … gpus − 1.
 * @throws Error naming GPUBENCH_CUDA_DEVICE when it is not `gpus` distinct ordinals
 */
export function ncclDevicesFor(localRank: number | undefined, gpus = 1, env: NodeJS.ProcessEnv = process.env): number[] {
  const given = env.GPUBENCH_CUDA_DEVICE;
  if (given !== undefined && given.trim() !== '') {
    const list = given.split(',').map((x) => x.trim());
    const ordinals = list.map(Number);
    if (ordinals.some((d) => !Number.isInteger(d) || d < 0) || list.some((x) => x === ''))
      throw new Error(`GPUBENCH_CUDA_DEVICE="${given}" is not a CUDA ordinal or a comma-separated list of them`);
    if (ordinals.length !== gpus)
      throw new Error(`GPUBENCH_CUDA_DEVICE="${given}" names ${ordinals.length} GPU${ordinals.length === 1 ? '' : 's'} but this worker runs ${gpus} rank${gpus === 1 ? '' : 's'} (--gpus-per-process ${gpus}): give one ordinal per rank`);
    if (new Set(ordinals).size !== ordinals.length) throw new Error(`GPUBENCH_CUDA_DEVICE="${given}" names a GPU twice: NCCL runs one rank per GPU`);
    return ordinals;
  }
  const first = (localRank ?? 0) * gpus;
  return Array.from({ length: gpus }, (_, i) => first + i);
}

/**
 * A worker's own probe of NCCL, for its hello: its host's GPUs, the ones its ranks will
 * drive, and NCCL's version, or why it cannot run NCCL here. Never throws.
 */
export async function probeNcclOnWorker(localRank: number | undefined, gpus = 1, env: NodeJS.ProcessEnv = process.env): Promise<WorkerBackendProbe> {
  const s = await cudaStack();
  if (!s.ok) return { available: false, reason: s.reason };
  const { stack } = s;
  const devices = stack.devices.map((d) => ({
    id: `cuda:${d.index}`, name: d.name, memoryBytes: d.memoryBytes, architecture: `sm_${d.ccMajor}${d.ccMinor}`, uuid: d.uuid, pciBusId: d.pciBusId,
  }));
  let use: number[];
  try {
    use = ncclDevicesFor(localRank, gpus, env);
  } catch (err) {
    return { available: false, reason: (err as Error).message, devices };
  }
  if (!stack.nccl.ok) return { available: false, reason: stack.nccl.reason, devices, use };
  const version = { version: ncclVersionString(stack.nccl.version), versionCode: stack.nccl.version };
  const missing = use.find((u) => !stack.devices.some((d) => d.index === u));
  if (missing !== undefined) {
    const n = stack.devices.length;
    return {
      available: false,
      reason: `cuda:${missing} does not exist: this host has ${n} GPU${n === 1 ? '' : 's'} (ordinals 0..${n - 1}); NCCL runs one rank per GPU: start at most that many ranks per host, or set GPUBENCH_CUDA_DEVICE`,
      devices, use, ...version,
    };
  }
  return { available: true, devices, use, notes: [`NCCL ${version.version}: ${stack.nccl.path}`], ...version };
}

/** "rank 2" or "ranks 4–7". */
export function ranksLabel(ranks: readonly number[]): string {
  if (ranks.length === 1) return `rank ${ranks[0]}`;
  return `ranks ${ranks[0]}–${ranks[ranks.length - 1]}`;
}

/**
 * The `nccl` backend's availability in a world, from its workers' probes: available when
 * every worker has NCCL, with the GPUs they will drive as devices (`host:cuda:N`);
 * otherwise why, naming every worker that lacks it. Before the workers have joined the
 * answer is provisional (available, no devices): the coordinator plans again once they have.
 */
export function worldNcclProbe(ranks: number, workers: readonly WorldWorker[] | undefined): ProbeResult & { versionCode?: number } {
  if (!workers) return { available: true, devices: [], notes: ["planned from the workers' own probes once they join"] };
  const probes = workers.map((w) => ({ w, p: w.backends?.[NCCL] }));
  const lacking = probes.filter(({ p }) => !p?.available);
  if (lacking.length > 0) {
    const why = lacking.map(({ w, p }) => `${ranksLabel(w.ranks)} (${w.hostname}): ${p ? p.reason ?? 'NCCL unavailable' : 'reported no NCCL probe'}`);
    return { available: false, reason: `NCCL is missing on ${lacking.length} of ${workers.length} worker${workers.length === 1 ? '' : 's'}: ${why.join('; ')}` };
  }
  const devices = new Map<string, DeviceInfo>();
  for (const { w, p } of probes)
    for (const u of p!.use ?? []) {
      const d = p!.devices?.find((x) => x.id === `cuda:${u}`);
      const id = `${w.hostname}:cuda:${u}`;
      devices.set(id, {
        backend: NCCL, id, name: d?.name ?? '?', vendor: 'NVIDIA',
        ...(d?.memoryBytes !== undefined ? { memoryBytes: d.memoryBytes } : {}),
        ...(d?.architecture ? { architecture: d.architecture } : {}),
        ...(d?.uuid ? { uuid: d.uuid } : {}),
        ...(d?.pciBusId ? { pciBusId: d.pciBusId } : {}),
      });
    }
  const versions = [...new Set(probes.map(({ p }) => p!.version ?? '?'))];
  const codes = probes.map(({ p }) => p!.versionCode).filter((c): c is number => c !== undefined);
  return {
    available: true,
    devices: [...devices.values()],
    notes: [
      versions.length === 1 ? `NCCL ${versions[0]} on every worker` : `the workers have different NCCL versions: ${versions.join(', ')}`,
      `${ranks} ranks on ${workers.length} worker process${workers.length === 1 ? '' : 'es'}, planned from the workers' own probes`,
    ],
    ...(codes.length ? { versionCode: Math.min(...codes) } : {}),
  };
}
