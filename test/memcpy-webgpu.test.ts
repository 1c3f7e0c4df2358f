/**
 * memcpy on the `webgpu` backend: copyBufferToBuffer, checked element by element, timed
 * between timestamp queries; its GB/s is bytes copied / time (nvbandwidth's figure) and
 * agrees with the host clock's view of the same copies.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { disposeBackends, getKernel, probeBackend } from '../src/harness/registry.js';
import { memcpyWorkload, type MemcpyData, type MemcpyParams } from '../src/kernels/memcpy/workload.js';
import { freshSeed } from '../src/harness/random.js';
import type { ResultsFile } from '../src/harness/results/schema.js';
import { gpubench } from './helpers/cli.js';
import { webgpuMissing } from './helpers/webgpu.js';

const missing = await webgpuMissing('webgpu');
const kernel = getKernel<MemcpyParams, MemcpyData>('memcpy', 'webgpu')!;

describe.skipIf(missing !== undefined)(`webgpu memcpy ${missing ? `(skipped: ${missing})` : ''}`, () => {
  afterAll(() => disposeBackends());

  for (const bytes of [4, 4100, 1 << 20]) {
    it(`copies ${bytes} bytes exactly (checked on a NaN-poisoned destination)`, async () => {
      const p = { bytes };
      const data = memcpyWorkload.makeData(p, freshSeed());
      const c = await kernel.setup(p, data);
      try {
        expect(c.impl).toEqual({ kernel: 'copyBufferToBuffer' });
        const out = await c.runChecked();
        expect(memcpyWorkload.check(p, data, out)).toMatchObject({ passed: true, wrong: 0, checked: bytes / 4 });
        // Twice, so the poison of the second check is what the copy overwrote.
        expect(memcpyWorkload.check(p, data, await c.runChecked()).passed).toBe(true);
      } finally {
        await c.dispose();
      }
    });
  }

  it('times the copies on the device where the adapter has timestamp-query, and the host clock agrees within reason', async () => {
    const probe = await probeBackend('webgpu');
    if (!probe.available) throw new Error(probe.reason);
    const p = { bytes: 16 << 20 };
    const c = await kernel.setup(p, memcpyWorkload.makeData(p, freshSeed()));
    try {
      expect(c.timer).toBe(probe.devices[0]?.features?.includes('timestamp-query') ? 'gpu-timestamp' : 'wall-clock');
      await c.time(2);
      const device: number[] = [];
      const host: number[] = [];
      for (let i = 0; i < 5; i++) {
        const t0 = performance.now();
        device.push(await c.time(4));
        host.push(performance.now() - t0);
      }
      const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
      // The device interval sits inside the host's (submit to readback), and is most of it for 4 × 16 MiB.
      expect(median(device)).toBeGreaterThan(0);
      expect(median(device)).toBeLessThanOrEqual(median(host) * 1.05);
      expect(median(device)).toBeGreaterThan(median(host) / 10);
    } finally {
      await c.dispose();
    }
  });

  it('refuses a copy over the adapter\'s maxBufferSize, with the reason', async () => {
    const probe = await probeBackend('webgpu');
    if (!probe.available) throw new Error(probe.reason);
    expect(kernel.supports?.({ bytes: 2 ** 34 }, probe.devices)).toMatch(/maxBufferSize/);
    expect(kernel.supports?.({ bytes: 4096 }, probe.devices)).toBeUndefined();
  });

  it('runs from the CLI: bandwidthGBps is bytes copied / median time, readWriteGBps twice that', () => {
    const dir = mkdtempSync(join(tmpdir(), 'gpubench-memcpy-'));
    const suite = join(dir, 'copy.yaml');
    writeFileSync(suite, 'schema: gpubench.suite/v1\nname: copy\nworkloads:\n  - { workload: memcpy, backends: [webgpu], sizes: [1048576] }\n');
    const json = join(dir, 'r.json');
    const r = gpubench(['run', '--suite', suite, '--json', json, '--min-time', '50', '--warmup', '10']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/GB\/s copy \([\d.]+ GB\/s read\+write\)/);
    const c = (JSON.parse(readFileSync(json, 'utf8')) as ResultsFile).cases[0]!;
    expect(c).toMatchObject({ id: 'memcpy/webgpu/1048576B', status: 'ok', impl: { kernel: 'copyBufferToBuffer' } });
    expect(c.metrics.bandwidthGBps).toBeCloseTo(1048576 / (c.stats!.medianMs / 1e3) / 1e9, 6);
    expect(c.metrics.readWriteGBps).toBeCloseTo(2 * c.metrics.bandwidthGBps!, 6);
  });
});
