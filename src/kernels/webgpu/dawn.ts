/**
 * Opening a Dawn (npm `webgpu`) adapter and device the way a benchmark needs them:
 * timestamp queries unquantized, f16 on NVIDIA's Vulkan driver, the adapter's own limits
 * requested explicitly, and a teardown that lets Node exit.
 */
import type { DeviceInfo } from '../../harness/results/schema.js';

/**
 * Dawn instance toggles. `timestamp_quantization` rounds timestamps to coarse ticks to
 * blunt timing attacks in browsers; a benchmark wants the raw device clock. Dawn hides
 * `shader-f16` on NVIDIA's Vulkan driver unless `vulkan_enable_f16_on_nvidia` is on.
 */
export const DAWN_FLAGS = [
  'disable-dawn-features=timestamp_quantization',
  'enable-dawn-features=vulkan_enable_f16_on_nvidia',
] as const;

/** Features a benchmark uses when the adapter has them. */
const WANTED_FEATURES: GPUFeatureName[] = ['timestamp-query', 'shader-f16'];

/** Limits worth raising to the adapter's maximum for large matrices. */
const WANTED_LIMITS = [
  'maxStorageBufferBindingSize',
  'maxBufferSize',
  'maxComputeWorkgroupStorageSize',
  'maxComputeInvocationsPerWorkgroup',
  'maxComputeWorkgroupSizeX',
  'maxComputeWorkgroupSizeY',
  'maxComputeWorkgroupsPerDimension',
  'maxStorageBuffersPerShaderStage',
] as const;

interface DawnModule {
  create(flags: string[]): GPU;
  globals: Record<string, unknown>;
}

let dawnModule: Promise<DawnModule> | undefined;

/**
 * Loads Dawn's Node bindings once and installs the WebGPU globals (GPUBufferUsage…)
 * that WGSL host code and tfjs-backend-webgpu expect.
 */
export async function loadDawn(): Promise<DawnModule> {
  dawnModule ??= import('webgpu').then((m) => {
    const mod = m as unknown as DawnModule;
    for (const [k, v] of Object.entries(mod.globals)) {
      if (!(k in globalThis)) (globalThis as Record<string, unknown>)[k] = v;
    }
    return mod;
  });
  return dawnModule;
}

/** An opened adapter and device, with the facts `list` and results report. */
export interface DawnContext {
  gpu: GPU;
  adapter: GPUAdapter;
  device: GPUDevice;
  info: DeviceInfo;
  /** True when `timestamp-query` was granted: device timing is possible. */
  timestamps: boolean;
  /** True when `shader-f16` was granted. */
  f16: boolean;
}

/**
 * Extra Dawn flags from the environment: `GPUBENCH_WEBGPU_ADAPTER` picks an adapter by
 * name (Dawn lists the names when it does not match), `GPUBENCH_WEBGPU_BACKEND` a Dawn
 * backend (vulkan, opengl, null…).
 */
export function dawnFlags(env: NodeJS.ProcessEnv = process.env): string[] {
  const flags: string[] = [...DAWN_FLAGS];
  if (env.GPUBENCH_WEBGPU_ADAPTER) flags.push(`adapter=${env.GPUBENCH_WEBGPU_ADAPTER}`);
  if (env.GPUBENCH_WEBGPU_BACKEND) flags.push(`backend=${env.GPUBENCH_WEBGPU_BACKEND}`);
  return flags;
}

/** Why no adapter was found, phrased so a person knows what to install. */
export function noAdapterReason(detail?: string): string {
  const base =
    'no WebGPU adapter: Dawn found no Vulkan driver. Install the NVIDIA/AMD/Intel driver, ' +
    'or Mesa\'s software driver (Debian 12: enable bookworm-backports, then ' +
    '`apt-get install -t bookworm-backports mesa-vulkan-drivers libvulkan1`)';
  return detail ? `${base} (${detail})` : base;
}

let shared: { gpu: GPU; users: number } | undefined;

/**
 * The process's one Dawn instance (the `navigator.gpu` of this process), shared by the
 * WGSL backend and tfjs-backend-webgpu. Each acquire needs a matching `releaseGpu()`.
 */
export async function acquireGpu(): Promise<GPU> {
  const dawn = await loadDawn();
  if (!shared) {
    try {
      shared = { gpu: dawn.create(dawnFlags()), users: 0 };
    } catch (e) {
      throw new Error(noAdapterReason((e as Error).message));
    }
  }
  shared.users++;
  return shared.gpu;
}

/** Drops one user of the shared instance; the last one lets go of it so Node can exit. */
export function releaseGpu(): void {
  if (shared && --shared.users <= 0) shared = undefined;
}

/**
 * A device on `adapter` with the features a benchmark uses (where the adapter has them)
 * and the adapter's own maximum limits; uncaptured errors are written to stderr.
 */
export async function requestBenchDevice(adapter: GPUAdapter): Promise<GPUDevice> {
  const requiredFeatures = WANTED_FEATURES.filter((f) => adapter.features.has(f));
  const requiredLimits: Record<string, number> = {};
  for (const name of WANTED_LIMITS) {
    const v = (adapter.limits as unknown as Record<string, number>)[name];
    if (typeof v === 'number') requiredLimits[name] = v;
  }
  const device = await adapter.requestDevice({ requiredFeatures, requiredLimits });
  // An uncaptured error would otherwise only be printed by Dawn; surface it in the run.
  device.addEventListener('uncapturederror', (ev) => {
    process.stderr.write(`webgpu: uncaptured error: ${(ev as GPUUncapturedErrorEvent).error.message}\n`);
  });
  return device;
}

/** Opens the high-performance adapter and a device with the features and limits a benchmark needs. */
export async function openDawn(): Promise<DawnContext> {
  const gpu = await acquireGpu();
  const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
  if (!adapter) {
    releaseGpu();
    throw new Error(noAdapterReason());
  }
  const device = await requestBenchDevice(adapter);
  return {
    gpu,
    adapter,
    device,
    info: describeAdapter(adapter, device),
    timestamps: device.features.has('timestamp-query'),
    f16: device.features.has('shader-f16'),
  };
}

/** Device facts for `list` and the results file. */
export function describeAdapter(adapter: GPUAdapter, device?: GPUDevice): DeviceInfo {
  const i = adapter.info;
  const limits: Record<string, number> = {};
  const src = (device ?? adapter).limits as unknown as Record<string, unknown>;
  for (const k in src) {
    const v = src[k];
    if (typeof v === 'number') limits[k] = v;
  }
  const name = i.description || i.device || i.architecture || 'unknown adapter';
  const software = i.architecture === 'software' || /llvmpipe|lavapipe|swiftshader/i.test(name);
  return {
    backend: 'webgpu',
    id: `webgpu:${i.vendor || 'unknown'}:${i.device || i.architecture || '0'}`,
    name,
    vendor: i.vendor || undefined,
    architecture: i.architecture || undefined,
    driver: i.description || undefined,
    features: [...(device ?? adapter).features].sort(),
    limits,
    software,
  };
}

/**
 * Destroys the device and drops every reference to the Dawn instance: dawn.node keeps
 * the process alive while a `GPU` object is reachable.
 */
export function closeDawn(ctx: DawnContext): void {
  ctx.device.destroy();
  releaseGpu();
  (ctx as { gpu?: GPU }).gpu = undefined;
  (ctx as { adapter?: GPUAdapter }).adapter = undefined;
}
