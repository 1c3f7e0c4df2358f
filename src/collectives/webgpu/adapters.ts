/**
 * Finding the WebGPU adapters of this machine and opening one device on each: the ranks
 * of the `webgpu-local` backend. Dawn's Node bindings hand out one adapter per request,
 * so the list comes from two places: the adapter names Dawn prints when `adapter=NAME`
 * matches nothing (each listed name is then opened by name), and `requestAdapter` with
 * both power preferences (a discrete and an integrated GPU). Adapters are told apart by
 * `adapter.info`; the same one reached twice is one rank.
 */
import type { DeviceInfo } from '../../harness/results/schema.js';
import { acquireGpu, DAWN_FLAGS, describeAdapter, loadDawn, releaseGpu, requestBenchDevice } from '../../kernels/webgpu/dawn.js';
import { GpuReducer } from '../gpu-reduce.js';

/** One rank's GPU: its own Dawn instance, adapter and device. */
export interface RankDevice {
  /** Kept so the Dawn instance outlives the device (dawn.node frees it when unreachable). */
  gpu: GPU;
  adapter: GPUAdapter;
  device: GPUDevice;
  info: DeviceInfo;
  /** The device granted `shader-f16`. */
  f16: boolean;
  reducer: GpuReducer;
}

/** An adapter Dawn listed: its backend and name. */
export interface ListedAdapter {
  backend: string;
  name: string;
}

/** Parses Dawn's "Available adapters:" lines (` * backend: 'vulkan', name: 'NVIDIA H100'`). */
export function parseAdapterList(message: string): ListedAdapter[] {
  const out: ListedAdapter[] = [];
  for (const m of message.matchAll(/^\s*\* backend: '([^']*)', name: '(.*)'\s*$/gm)) out.push({ backend: m[1]!, name: m[2]! });
  return out;
}

/** Dawn flags for these ranks: the benchmark's toggles and `GPUBENCH_WEBGPU_BACKEND`, never a fixed adapter. */
function baseFlags(env: NodeJS.ProcessEnv = process.env): string[] {
  return [...DAWN_FLAGS, ...(env.GPUBENCH_WEBGPU_BACKEND ? [`backend=${env.GPUBENCH_WEBGPU_BACKEND}`] : [])];
}

/** A name no adapter has: Dawn then rejects with the list of adapters. */
const NO_SUCH_ADAPTER = 'gpubench: list the adapters';

/** The adapters Dawn can see, from its error message for a name that matches none. */
export async function listAdapters(): Promise<ListedAdapter[]> {
  const dawn = await loadDawn();
  try {
    const gpu = dawn.create([...baseFlags(), `adapter=${NO_SUCH_ADAPTER}`]);
    await gpu.requestAdapter();
    return [];
  } catch (err) {
    return parseAdapterList(err instanceof Error ? err.message : String(err));
  }
}

const infoKey = (a: GPUAdapter): string => {
  const i = a.info;
  return [i.vendor, i.architecture, i.device, i.description].join('|');
};

async function openRank(gpu: GPU, adapter: GPUAdapter): Promise<RankDevice> {
  const device = await requestBenchDevice(adapter);
  const f16 = device.features.has('shader-f16');
  return { gpu, adapter, device, info: { ...describeAdapter(adapter, device), backend: 'webgpu-local' }, f16, reducer: new GpuReducer(device, f16) };
}

/** A local adapter found, not yet opened. */
export interface LocalAdapter {
  gpu: GPU;
  adapter: GPUAdapter;
  info: DeviceInfo;
}

/** The distinct local adapters and notes on what could not be reached. */
export interface LocalAdapters {
  adapters: LocalAdapter[];
  notes: string[];
}

/**
 * Finds every distinct adapter Dawn exposes (devices are opened later, by
 * `openRankDevices`: a probe opens none — a device opened only to be listed and
 * destroyed made dawn.node crash now and then at process exit). The process's shared Dawn
 * instance answers both power preferences; an instance of its own per listed name is
 * made only when the list names more adapters than those reached (every extra Dawn
 * instance is more driver state to tear down at exit).
 */
export async function findLocalAdapters(): Promise<LocalAdapters> {
  const dawn = await loadDawn();
  const flags = baseFlags();
  const listed = await listAdapters();
  const ranks: LocalAdapter[] = [];
  const notes: string[] = [];
  const seen = new Set<string>();
  const consider = async (gpu: GPU, options: GPURequestAdapterOptions) => {
    try {
      const adapter = await gpu.requestAdapter(options);
      if (!adapter || seen.has(infoKey(adapter))) return;
      seen.add(infoKey(adapter));
      ranks.push({ gpu, adapter, info: { ...describeAdapter(adapter), backend: 'webgpu-local' } });
    } catch {
      // An adapter that cannot be opened is not a rank; the probe says what was found.
    }
  };
  const shared = await acquireGpu();
  usesSharedGpu = true;
  for (const powerPreference of ['high-performance', 'low-power'] as const) await consider(shared, { powerPreference });
  const names = new Map<string, number>();
  for (const a of listed) names.set(a.name, (names.get(a.name) ?? 0) + 1);
  if (names.size > ranks.length)
    for (const name of names.keys()) {
      let gpu: GPU;
      try {
        gpu = dawn.create([...flags, `adapter=${name}`]);
      } catch {
        continue;
      }
      await consider(gpu, { powerPreference: 'high-performance' });
    }
  for (const [name, k] of names)
    if (k > 1)
      notes.push(`${k} adapters are named "${name}": Dawn's Node bindings select adapters by name, so only the first of them is reachable as a rank`);
  return { adapters: ranks, notes };
}

/** Opens one device on each adapter (a GPUAdapter gives out one device, so once). */
export async function openRankDevices(adapters: LocalAdapter[]): Promise<RankDevice[]> {
  const out: RankDevice[] = [];
  for (const a of adapters) out.push(await openRank(a.gpu, a.adapter));
  return out;
}

/** Whether `findLocalAdapters` holds a use of the shared Dawn instance. */
let usesSharedGpu = false;

/**
 * `n` devices opened from the same adapter, each its own GPUDevice with its own queue and
 * buffers: a stand-in for n physical adapters in tests on a machine with one. Takes a
 * use of the shared Dawn instance: give it back with `closeDevices`.
 */
export async function openSameAdapterDevices(n: number): Promise<RankDevice[]> {
  const gpu = await acquireGpu();
  const out: RankDevice[] = [];
  for (let i = 0; i < n; i++) {
    // A GPUAdapter hands out one device; ask for the adapter again for each.
    const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
    if (!adapter) throw new Error('no WebGPU adapter');
    out.push(await openRank(gpu, adapter));
  }
  return out;
}

/** Destroys the devices of `openRankDevices` and gives back `findLocalAdapters`' use of the shared instance. */
export function closeRanks(ranks: RankDevice[]): void {
  for (const r of ranks) r.device.destroy();
  if (usesSharedGpu) {
    usesSharedGpu = false;
    releaseGpu();
  }
}

/** Destroys devices of `openSameAdapterDevices` and gives back its use of the shared instance. */
export function closeDevices(ranks: RankDevice[]): void {
  for (const r of ranks) r.device.destroy();
  releaseGpu();
}
