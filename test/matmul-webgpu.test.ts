import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { getKernel, probeBackend, disposeBackends } from '../src/harness/registry.js';
import { matmulWorkload, type MatmulData, type MatmulParams } from '../src/kernels/matmul/workload.js';
import { freshSeed } from '../src/harness/random.js';
import { pollingShare } from './helpers/quiet-wait.js';
import { webgpuMissing, REQUIRE_WEBGPU } from './helpers/webgpu.js';

const missing = await webgpuMissing('webgpu');
const kernel = getKernel<MatmulParams, MatmulData>('matmul', 'webgpu')!;

/** Runs one case through the real kernel and the real check; returns the check and impl. */
async function runCase(m: number, n: number, k: number, opts: Partial<MatmulParams> = {}) {
  const p: MatmulParams = { m, n, k, batch: 1, dtype: 'f32', kernel: 'auto', ...opts };
  const probe = await probeBackend('webgpu');
  if (!probe.available) throw new Error(`webgpu required (GPUBENCH_REQUIRE_WEBGPU=${REQUIRE_WEBGPU ? 1 : 0}): ${probe.reason}`);
  const unsupported = kernel.supports?.(p, probe.devices);
  if (unsupported) throw new Error(unsupported);
  const data = matmulWorkload.makeData(p, freshSeed());
  const c = await kernel.setup(p, data);
  try {
    const out = await c.runChecked();
    return { check: matmulWorkload.check(p, data, out), impl: c.impl, timer: c.timer, ms: await c.time(2) };
  } finally {
    await c.dispose();
  }
}

// Odd shapes: 1×N, N×1, primes, non-multiples of every tile and of 4 (scalar path),
// multiples of 4 with ragged tiles (vec4 path), and exact tiles.
const SHAPES: [number, number, number][] = [
  [1, 1, 1],
  [1, 37, 5],
  [41, 1, 7],
  [1, 64, 64],
  [64, 1, 64],
  [67, 71, 73],
  [97, 13, 101],
  [100, 64, 48],
  [130, 260, 36],
  [128, 128, 128],
];

describe.skipIf(missing !== undefined)(`webgpu matmul ${missing ? `(skipped: ${missing})` : ''}`, () => {
  let cacheDir: string;
  beforeAll(() => {
    cacheDir = mkdtempSync(join(tmpdir(), 'gpubench-tune-'));
    process.env.GPUBENCH_AUTOTUNE_CACHE = join(cacheDir, 'autotune.json');
  });
  afterAll(async () => {
    delete process.env.GPUBENCH_AUTOTUNE_CACHE;
    await disposeBackends();
  });

  for (const kern of ['tiled', 'naive'] as const) {
    for (const [m, n, k] of SHAPES) {
      it(`${kern} f32 ${m}x${n}x${k} matches the float64 reference`, async () => {
        const r = await runCase(m, n, k, { kernel: kern });
        expect(r.check.passed, JSON.stringify(r.check)).toBe(true);
        expect(r.check.wrong).toBe(0);
        expect(r.check.checked).toBe(m * n);
        expect(r.ms).toBeGreaterThan(0);
      });
    }
  }

  it('batched tiled f32 3×(17x19x23) matches the reference for every batch', async () => {
    const r = await runCase(17, 19, 23, { kernel: 'tiled', batch: 3 });
    expect(r.check.passed, JSON.stringify(r.check)).toBe(true);
    expect(r.check.checked).toBe(3 * 17 * 19);
  });

  for (const [m, n, k] of [[33, 35, 37], [64, 64, 64], [1, 8, 3]] as [number, number, number][]) {
    it(`f16 ${m}x${n}x${k} (f16 storage, f32 accumulation) is within the f16 tolerance`, async () => {
      const probe = await probeBackend('webgpu');
      if (probe.available && !probe.devices[0]?.features?.includes('shader-f16')) {
        expect(kernel.supports?.({ m, n, k, batch: 1, dtype: 'f16', kernel: 'auto' }, probe.devices)).toMatch(/shader-f16/);
        return;
      }
      const r = await runCase(m, n, k, { dtype: 'f16', kernel: 'tiled' });
      expect(r.check.passed, JSON.stringify(r.check)).toBe(true);
      expect(r.check.tolerance).toBe(1e-2);
    });
  }

  it('auto tunes once per adapter and size bucket, then reuses the cached tile', async () => {
    const first = await runCase(96, 96, 96);
    expect(first.check.passed).toBe(true);
    expect(first.impl?.autotune?.source).toBe('measured');
    expect(first.impl?.autotune?.candidates).toBeGreaterThan(1);
    const cache = JSON.parse(readFileSync(process.env.GPUBENCH_AUTOTUNE_CACHE!, 'utf8')) as Record<string, { tile: unknown }>;
    expect(Object.keys(cache)).toContain(first.impl?.autotune?.key);
    const second = await runCase(100, 92, 120); // same 128-bucket, also vec4-able
    expect(second.check.passed).toBe(true);
    expect(second.impl?.autotune?.source).toBe('cache');
    expect(second.impl?.kernel).toBe(first.impl?.kernel);
  });

  it('times on the device when the adapter has timestamp-query', async () => {
    const probe = await probeBackend('webgpu');
    const hasTs = probe.available && probe.devices[0]?.features?.includes('timestamp-query');
    const r = await runCase(64, 64, 64, { kernel: 'tiled' });
    expect(r.timer).toBe(hasTs ? 'gpu-timestamp' : 'wall-clock');
  });

  it('reads raw device timestamps (Dawn\'s timestamp_quantization is off)', async () => {
    const probe = await probeBackend('webgpu');
    if (!(probe.available && probe.devices[0]?.features?.includes('timestamp-query'))) return;
    const p: MatmulParams = { m: 32, n: 32, k: 32, batch: 1, dtype: 'f32', kernel: 'tiled' };
    const c = await kernel.setup(p, matmulWorkload.makeData(p, freshSeed()));
    try {
      const ns: number[] = [];
      for (let i = 0; i < 6; i++) ns.push(Math.round((await c.time(1)) * 1e6));
      // Quantized timestamps come in multiples of 65536 ns; raw ones almost never do.
      expect(ns.some((x) => x % 65536 !== 0), ns.join(',')).toBe(true);
    } finally {
      await c.dispose();
    }
  });

  it('sleeps through most of a device-timed submit instead of polling Dawn all along', async () => {
    const probe = await probeBackend('webgpu');
    if (!(probe.available && probe.devices[0]?.features?.includes('timestamp-query'))) return;
    const p: MatmulParams = { m: 256, n: 256, k: 256, batch: 1, dtype: 'f32', kernel: 'tiled' };
    const c = await kernel.setup(p, matmulWorkload.makeData(p, freshSeed()));
    try {
      // Polling from the submit on: 0.7-0.9 of the device time on lavapipe; sleeping 80% first: 0-0.1.
      const share = await pollingShare((n) => c.time(n));
      expect(share.least, share.calls).toBeLessThan(0.3);
    } finally {
      await c.dispose();
    }
  });

  it('refuses dtypes WGSL does not have and operands over the binding limit, with the reason', async () => {
    const probe = await probeBackend('webgpu');
    if (!probe.available) throw new Error(probe.reason);
    expect(kernel.supports?.({ m: 8, n: 8, k: 8, batch: 1, dtype: 'bf16', kernel: 'auto' }, probe.devices)).toMatch(/no bf16/);
    expect(kernel.supports?.({ m: 65536, n: 65536, k: 65536, batch: 1, dtype: 'f32', kernel: 'auto' }, probe.devices)).toMatch(/maxStorageBufferBindingSize/);
    expect(kernel.supports?.({ m: 8, n: 8, k: 8, batch: 1, dtype: 'f32', kernel: 'winograd' }, probe.devices)).toMatch(/no kernel "winograd"/);
  });
});
