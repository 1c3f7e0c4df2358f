import { afterAll, describe, expect, it } from 'vitest';
import { disposeBackends, getKernel, probeBackend } from '../src/harness/registry.js';
import { matmulWorkload, type MatmulData, type MatmulParams } from '../src/kernels/matmul/workload.js';
import { freshSeed } from '../src/harness/random.js';
import { explainLoadError } from '../src/kernels/tfjs-node/index.js';
import { gpuFallbackReason } from '../src/kernels/tfjs-webgpu/index.js';
import { pollingShare } from './helpers/quiet-wait.js';
import { webgpuMissing } from './helpers/webgpu.js';

async function runCase(backend: string, m: number, n: number, k: number, batch = 1) {
  const p: MatmulParams = { m, n, k, batch, dtype: 'f32', kernel: 'auto' };
  const probe = await probeBackend(backend);
  if (!probe.available) throw new Error(probe.reason);
  const kernel = getKernel<MatmulParams, MatmulData>('matmul', backend)!;
  const data = matmulWorkload.makeData(p, freshSeed());
  const c = await kernel.setup(p, data);
  try {
    const out = await c.runChecked();
    const check = matmulWorkload.check(p, data, out);
    const ms = await c.time(2);
    return { check, ms, timer: c.timer, fallback: c.fallbackReason?.() };
  } finally {
    await c.dispose();
  }
}

const SHAPES: [number, number, number][] = [[1, 1, 1], [1, 33, 7], [29, 1, 5], [67, 71, 73], [128, 64, 96]];

afterAll(async () => {
  await disposeBackends();
});

describe('tfjs-cpu matmul (the reference stack)', () => {
  for (const [m, n, k] of SHAPES) {
    it(`${m}x${n}x${k} matches the float64 reference, timed on the host clock`, async () => {
      const r = await runCase('tfjs-cpu', m, n, k);
      expect(r.check.passed, JSON.stringify(r.check)).toBe(true);
      expect(r.timer).toBe('wall-clock');
      expect(r.fallback).toBeUndefined();
      expect(r.ms).toBeGreaterThan(0);
    });
  }
  it('runs batched matmuls', async () => {
    const r = await runCase('tfjs-cpu', 9, 10, 11, 3);
    expect(r.check.passed).toBe(true);
    expect(r.check.checked).toBe(3 * 9 * 10);
  });
  it('refuses dtypes tfjs does not have', async () => {
    const k = getKernel<MatmulParams, MatmulData>('matmul', 'tfjs-cpu')!;
    expect(k.supports?.({ m: 2, n: 2, k: 2, batch: 1, dtype: 'f16', kernel: 'auto' }, [])).toMatch(/float32 only/);
  });
});

const missing = await webgpuMissing('tfjs-webgpu');
describe.skipIf(missing !== undefined)(`tfjs-webgpu matmul ${missing ? `(skipped: ${missing})` : ''}`, () => {
  for (const [m, n, k] of SHAPES) {
    it(`${m}x${n}x${k} matches the reference and ran on the GPU`, async () => {
      const r = await runCase('tfjs-webgpu', m, n, k);
      expect(r.check.passed, JSON.stringify(r.check)).toBe(true);
      expect(r.fallback).toBeUndefined();
    });
  }

  it('sleeps through most of a timed call, as the WGSL kernels do, instead of polling Dawn all along', async () => {
    const probe = await probeBackend('tfjs-webgpu');
    if (!(probe.available && probe.devices[0]?.features?.includes('timestamp-query'))) return;
    const p: MatmulParams = { m: 256, n: 256, k: 256, batch: 1, dtype: 'f32', kernel: 'auto' };
    const c = await getKernel<MatmulParams, MatmulData>('matmul', 'tfjs-webgpu')!.setup(p, matmulWorkload.makeData(p, freshSeed()));
    try {
      expect(c.timer).toBe('gpu-timestamp');
      const share = await pollingShare((n) => c.time(n));
      expect(share.least, share.calls).toBeLessThan(0.3);
    } finally {
      await c.dispose();
    }
  });

  it('detects a result tfjs forwarded to its CPU kernels, and passes one computed on the GPU', async () => {
    const tf = await import('@tensorflow/tfjs-core');
    await runCase('tfjs-webgpu', 4, 4, 4); // make sure the backend is loaded and current
    expect(tf.env().getBool('WEBGPU_CPU_FORWARD')).toBe(false);
    const x = tf.tensor([1, 2, 3]);
    const y = tf.tensor([4, 5, 6]);
    tf.env().set('WEBGPU_CPU_FORWARD', true);
    try {
      const forwarded = tf.add(x, y); // small and never uploaded: tfjs computes it on the CPU
      expect(gpuFallbackReason(tf, forwarded)).toMatch(/CPU forwarding/);
      expect(Array.from(await forwarded.data())).toEqual([5, 7, 9]);
    } finally {
      tf.env().set('WEBGPU_CPU_FORWARD', false);
    }
    const onDevice = tf.add(x, y);
    expect(gpuFallbackReason(tf, onDevice)).toBeUndefined();
    tf.dispose([x, y, onDevice]);
  });
});

describe('tfjs-node-gpu and tfjs-node (optional peers)', () => {
  it('are unavailable here with the install command and what they need', async () => {
    const gpu = await probeBackend('tfjs-node-gpu');
    expect(gpu.available).toBe(false);
    if (!gpu.available) expect(gpu.reason).toMatch(/not installed: npm install @tensorflow\/tfjs-node-gpu.*CUDA 11\.2 \+ cuDNN 8\.1/);
    const cpu = await probeBackend('tfjs-node');
    expect(cpu.available).toBe(false);
  });
  it('explain libtensorflow and CUDA load failures in words a person can act on', () => {
    expect(explainLoadError('@tensorflow/tfjs-node-gpu', new Error('libtensorflow.so.2: cannot open shared object file'))).toMatch(/^libtensorflow missing: .*npm rebuild @tensorflow\/tfjs-node-gpu/);
    expect(explainLoadError('@tensorflow/tfjs-node-gpu', new Error('libcudart.so.11.0: cannot open shared object file'))).toMatch(/^CUDA 11\.2 \+ cuDNN 8\.1 not found/);
    expect(explainLoadError('@tensorflow/tfjs-node', new Error("Cannot find package '@tensorflow/tfjs-node' imported from x"))).toMatch(/^not installed: npm install @tensorflow\/tfjs-node /);
    expect(explainLoadError('@tensorflow/tfjs-node', new Error('boom'))).toMatch(/failed to load: boom/);
  });
});
