/**
 * hostcopy on the `webgpu` backend, for real on the local adapter (lavapipe here): upload
 * with writeBuffer and download with mapAsync, each checked byte for byte on a poisoned
 * destination and again after its timed runs; the CUDA-only testcases are skipped saying why.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { disposeBackends, getKernel } from '../src/harness/registry.js';
import { hostCopyWorkload, HOSTCOPY_TESTCASES, type HostCopyData, type HostCopyParams, type HostCopyTestcase } from '../src/kernels/acceptance/hostcopy.js';
import { freshSeed } from '../src/harness/random.js';
import type { ResultsFile } from '../src/harness/results/schema.js';
import { gpubench } from './helpers/cli.js';
import { webgpuMissing } from './helpers/webgpu.js';

const missing = await webgpuMissing('webgpu');
const kernel = getKernel<HostCopyParams, HostCopyData>('hostcopy', 'webgpu')!;
const params = (testcase: HostCopyTestcase, bytes: number): HostCopyParams => ({ bytes, testcase, device: 0, ...HOSTCOPY_TESTCASES[testcase] });

describe.skipIf(missing !== undefined)(`webgpu hostcopy ${missing ? `(skipped: ${missing})` : ''}`, () => {
  afterAll(() => disposeBackends());

  for (const testcase of ['host_to_device_writebuffer', 'device_to_host_mapasync'] as const) {
    it(`${testcase} moves every byte, before and after its timed runs`, async () => {
      const p = params(testcase, 4100);
      const data = hostCopyWorkload.makeData(p, freshSeed());
      const c = await kernel.setup(p, data);
      try {
        expect(c.timer).toBe('wall-clock');
        expect(hostCopyWorkload.check(p, data, await c.runChecked())).toMatchObject({ passed: true, wrong: 0, checked: 4100 });
        expect(await c.time(3)).toBeGreaterThan(0);
        expect((await c.afterTiming!()).check).toMatchObject({ passed: true, checked: 4100 });
      } finally {
        await c.dispose();
      }
    });
  }

  it('the check sees a destination that is not the source', async () => {
    const p = params('device_to_host_mapasync', 64);
    const data = hostCopyWorkload.makeData(p, freshSeed());
    const c = await kernel.setup(p, data);
    try {
      const out = await c.runChecked();
      new Uint8Array(out.buffer, out.byteOffset, out.byteLength)[7]! ^= 1;
      expect(hostCopyWorkload.check(p, data, out)).toMatchObject({ passed: false, wrong: 1 });
    } finally {
      await c.dispose();
    }
  });

  it('runs as a workload from the CLI: upload and download GB/s, the CUDA testcases skipped with the reason', () => {
    const dir = mkdtempSync(join(tmpdir(), 'gpubench-hostcopy-'));
    try {
      const suite = join(dir, 's.yaml');
      writeFileSync(
        suite,
        'schema: gpubench.suite/v1\nname: hc\nmeasure: { warmupMs: 20, minTimeMs: 100, minSamples: 3, maxSamples: 10 }\nworkloads:\n' +
          '  - { workload: hostcopy, backends: [webgpu], sizes: [4194304] }\n' +
          '  - { workload: hostcopy, backends: [webgpu], sizes: [4096], testcases: [host_to_device_memcpy_sm] }\n',
      );
      const out = join(dir, 'r.json');
      const r = gpubench(['run', '--suite', suite, '--json', out, '--reporter', 'silent'], { XDG_RUNTIME_DIR: process.env.XDG_RUNTIME_DIR ?? '/tmp/gpubench-xdg' });
      expect(r.code, r.stderr).toBe(0);
      const cases = (JSON.parse(readFileSync(out, 'utf8')) as ResultsFile).cases;
      expect(cases.map((c) => [c.id, c.status])).toEqual([
        ['hostcopy/webgpu/host_to_device_writebuffer/0/4194304B', 'ok'],
        ['hostcopy/webgpu/device_to_host_mapasync/0/4194304B', 'ok'],
        ['hostcopy/webgpu/host_to_device_memcpy_sm/0/4096B', 'skipped'],
      ]);
      for (const c of cases.slice(0, 2)) {
        expect(c.check).toMatchObject({ passed: true, checked: 4194304, afterTiming: true });
        expect(c.metrics.bandwidthGBps).toBeCloseTo(4194304 / (c.stats!.medianMs / 1e3) / 1e9, 9);
      }
      expect(cases[2]!.reason).toMatch(/CUDA only/);
      console.log(`webgpu hostcopy 4 MiB: upload ${cases[0]!.metrics.bandwidthGBps!.toFixed(2)} GB/s, download ${cases[1]!.metrics.bandwidthGBps!.toFixed(2)} GB/s (${cases[0]!.device})`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
