/**
 * The `tfjs-webgpu` backend: `tf.matMul` on @tensorflow/tfjs-backend-webgpu, running on a
 * device of the same Dawn instance the WGSL backend uses. tfjs only self-registers when
 * `navigator.gpu` exists at import (never in Node 20), so gpubench registers tfjs's
 * `WebGPUBackend` class itself, on a device it opened with the adapter's limits.
 * Small ops are forwarded to the CPU by default (WEBGPU_CPU_FORWARD): that is turned off,
 * and every checked result is verified to live in a GPU buffer.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type * as tfc from '@tensorflow/tfjs-core';
import type { Backend } from '../../harness/backend.js';
import { registerBackend, registerKernel } from '../../harness/registry.js';
import type { DeviceInfo } from '../../harness/results/schema.js';
import { tfjsMatmulKernel, wallTime } from '../tfjs-common/matmul.js';
import { acquireGpu, describeAdapter, noAdapterReason, releaseGpu } from '../webgpu/dawn.js';
import { quietSleepMs } from '../webgpu/quiet-wait.js';

type Tf = typeof tfc;

interface Loaded {
  tf: Tf;
  info: DeviceInfo;
  timestamps: boolean;
}

let loaded: Promise<Loaded> | undefined;

type NavigatorHolder = { navigator?: { gpu?: GPU } };

/**
 * tfjs's WebGPUBackend refuses to construct unless `navigator.gpu` exists. Node 20 has no
 * `navigator`; Node 21+ has one without `gpu`. Point it at the shared Dawn instance while
 * tfjs-webgpu is in use, and take it away after, or dawn.node keeps the process alive.
 */
function exposeNavigatorGpu(gpu: GPU | undefined): void {
  const g = globalThis as unknown as NavigatorHolder;
  if (gpu) {
    if (!g.navigator) Object.defineProperty(globalThis, 'navigator', { value: {}, configurable: true, writable: true });
    Object.defineProperty(g.navigator, 'gpu', { value: gpu, configurable: true, writable: true });
  } else if (g.navigator && 'gpu' in g.navigator) {
    delete g.navigator.gpu;
  }
}

/** Until this `performance.now()`, a read-back that tfjs maps sleeps first (quietMaps). */
let quietUntil = 0;

/**
 * tfjs maps each timed program's query read-back right after its submit, and Dawn's Node
 * bindings poll while a map is pending (../webgpu/quiet-wait.ts): on a software adapter
 * that polling thread slows tfjs's kernels as it would slow gpubench's. So the device's
 * mappable buffers first sleep until `quietUntil`, which a timed call sets from the
 * previous call's time, as the WGSL kernels' own waits do: both stacks wait alike.
 */
function quietMaps(device: GPUDevice): void {
  const create = device.createBuffer.bind(device);
  device.createBuffer = (desc: GPUBufferDescriptor): GPUBuffer => {
    const buffer = create(desc);
    if (desc.usage & GPUBufferUsage.MAP_READ) {
      const map = buffer.mapAsync.bind(buffer);
      buffer.mapAsync = async (...args: Parameters<GPUBuffer['mapAsync']>) => {
        const wait = quietUntil - performance.now();
        if (wait > 0) await sleep(wait);
        return map(...args);
      };
    }
    return buffer;
  };
}

/** Device ms per matMul in the latest timed call of each case (keyed by its `run`). */
const msPerCall = new WeakMap<() => tfc.Tensor, number>();

async function open(): Promise<Loaded> {
  const gpu = await acquireGpu();
  try {
    const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
    if (!adapter) throw new Error(noAdapterReason());
    exposeNavigatorGpu(gpu);
    const tf = await import('@tensorflow/tfjs-core');
    // Production mode: no debug-only checks inside timed kernels, no console banners.
    tf.enableProdMode();
    const { WebGPUBackend } = await import('@tensorflow/tfjs-backend-webgpu');
    const requiredFeatures = (['timestamp-query'] as GPUFeatureName[]).filter((f) => adapter.features.has(f));
    const l = adapter.limits;
    const device = await adapter.requestDevice({
      requiredFeatures,
      requiredLimits: {
        maxComputeWorkgroupStorageSize: l.maxComputeWorkgroupStorageSize,
        maxComputeWorkgroupsPerDimension: l.maxComputeWorkgroupsPerDimension,
        maxStorageBufferBindingSize: l.maxStorageBufferBindingSize,
        maxBufferSize: l.maxBufferSize,
        maxComputeWorkgroupSizeX: l.maxComputeWorkgroupSizeX,
        maxComputeInvocationsPerWorkgroup: l.maxComputeInvocationsPerWorkgroup,
      },
    });
    quietMaps(device);
    const info = { ...describeAdapter(adapter, device), backend: 'tfjs-webgpu' };
    if (tf.findBackendFactory('webgpu')) tf.removeBackend('webgpu');
    tf.registerBackend('webgpu', () => new WebGPUBackend(device, adapter.info as never), 1);
    tf.env().set('WEBGPU_CPU_FORWARD', false);
    if (!(await tf.setBackend('webgpu'))) throw new Error('tfjs could not initialise its webgpu backend');
    return { tf, info, timestamps: device.features.has('timestamp-query') };
  } catch (err) {
    exposeNavigatorGpu(undefined);
    releaseGpu();
    throw err;
  }
}

function load(): Promise<Loaded> {
  loaded ??= open();
  loaded.catch(() => {
    loaded = undefined;
  });
  return loaded;
}

/** Whether tfjs keeps this tensor in a GPU buffer (CPU-forwarded results have none). */
export function onGpu(tf: Tf, t: tfc.Tensor): boolean {
  const backend = tf.backend() as unknown as { tensorMap?: { get(id: object): { resource?: unknown } | undefined } };
  return backend.tensorMap?.get(t.dataId)?.resource != null;
}

/**
 * Why a tfjs-webgpu result is not a GPU number, or undefined: tfjs switched backends, or
 * it forwarded the op to its CPU kernels (tfjs 4.x forwards small element-wise ops when
 * WEBGPU_CPU_FORWARD is on; gpubench turns that off, and checks anyway).
 */
export function gpuFallbackReason(tf: Tf, result: tfc.Tensor): string | undefined {
  if (tf.getBackend() !== 'webgpu') return `tfjs ran on its ${tf.getBackend()} backend, not webgpu`;
  if (!onGpu(tf, result)) return 'tfjs-webgpu computed the result on the CPU (CPU forwarding), not on the GPU';
  return undefined;
}

export const tfjsWebgpuBackend: Backend = {
  id: 'tfjs-webgpu',
  title: 'TensorFlow.js WebGPU backend (tf.matMul) on the same Dawn instance',
  async probe() {
    try {
      const l = await load();
      const notes = l.timestamps ? [] : ['no timestamp-query: timed with the host clock'];
      return { available: true, devices: [l.info], notes };
    } catch (err) {
      return { available: false, reason: (err as Error).message };
    }
  },
  async dispose() {
    const pending = loaded;
    loaded = undefined;
    const l = await pending?.catch(() => undefined);
    if (!l) return;
    // Disposing tfjs's backend destroys its device; then the shared Dawn instance can go.
    if (l.tf.findBackendFactory('webgpu')) l.tf.removeBackend('webgpu');
    exposeNavigatorGpu(undefined);
    releaseGpu();
  },
};

registerBackend(tfjsWebgpuBackend, 50);
registerKernel(
  tfjsMatmulKernel({
    id: 'tfjs-webgpu',
    tfBackend: 'webgpu',
    load: async () => (await load()).tf,
    deviceName: async () => (await load()).info.name,
    timer: async () => ((await load()).timestamps ? 'gpu-timestamp' : 'wall-clock'),
    async time(tf, run, iterations) {
      const l = await load();
      if (!l.timestamps) return wallTime(run, iterations);
      // tf.time sums the timestamp-query interval of every program the matMuls dispatched.
      const outs: tfc.Tensor[] = [];
      // tfjs maps the read-backs inside tf.time's synchronous part, so the deadline is read there.
      quietUntil = performance.now() + quietSleepMs((msPerCall.get(run) ?? 0) * iterations);
      let info: tfc.TimingInfo;
      try {
        info = await tf.time(() => {
          for (let i = 0; i < iterations; i++) outs.push(run());
        });
      } finally {
        quietUntil = 0;
      }
      for (const o of outs) o.dispose();
      const ms = info.kernelMs;
      if (typeof ms !== 'number' || !(ms > 0)) throw new Error('tfjs-webgpu returned no kernel time from its timestamp queries');
      msPerCall.set(run, ms / iterations);
      return ms;
    },
    fallback: gpuFallbackReason,
  }),
);
