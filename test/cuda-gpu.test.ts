/**
 * The real CUDA paths, on a machine with an NVIDIA GPU: cuBLASLt in every dtype against the
 * float64 reference, batched and ragged shapes, the device copy, NVML telemetry in the
 * results, and NCCL all-reduce over the local GPUs (the binding, and the `nccl` backend's
 * allreduce cases through the CLI). Skipped, with the probe's reason in the
 * suite's title, where the `cuda` backend is unavailable (CI, this repository's dev box).
 */
import { describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cudaStack } from '../src/kernels/cuda/context.js';
import { prepareAllReduce } from '../src/kernels/cuda/nccl.js';
import { uniform } from '../src/harness/random.js';
import type { CaseResult } from '../src/harness/results/schema.js';
import { gpubench } from './helpers/cli.js';

const opened = await cudaStack();
const reason = opened.ok ? '' : opened.reason;
const stack = opened.ok ? opened.stack : undefined;
const tmp = () => mkdtempSync(join(tmpdir(), 'gpubench-gpu-'));

function runSuite(yaml: string): { code: number; cases: CaseResult[]; stderr: string } {
  const dir = tmp();
  writeFileSync(join(dir, 's.yaml'), `schema: gpubench.suite/v1\nname: gpu-test\nmeasure: { warmupMs: 50, minTimeMs: 200, minSamples: 3, maxSamples: 20 }\nworkloads:\n${yaml}`);
  const r = gpubench(['run', '--suite', join(dir, 's.yaml'), '--json', join(dir, 'r.json'), '--reporter', 'silent']);
  const cases = (JSON.parse(readFileSync(join(dir, 'r.json'), 'utf8')) as { cases: CaseResult[] }).cases;
  return { code: r.code, cases, stderr: r.stderr };
}

describe.skipIf(!stack)(`cuda on a GPU${reason ? ` (skipped: ${reason})` : ''}`, () => {
  it('matmul in every dtype the GPU has matches the float64 reference, with cuBLASLt and NVML', () => {
    const fp8 = stack!.devices[0]!.ccMajor * 10 + stack!.devices[0]!.ccMinor >= 89;
    const { code, cases, stderr } = runSuite(`  - { workload: matmul, backends: [cuda], dtypes: [f32, tf32, f16, bf16${fp8 ? ', fp8' : ''}], sizes: [1024] }\n`);
    expect(code, stderr).toBe(0);
    for (const c of cases) {
      expect(c.status, `${c.id}: ${c.reason}`).toBe('ok');
      expect(c.timer).toBe('cuda-event');
      expect(c.impl?.kernel).toBe('cublasLt');
      expect(c.impl?.autotune?.candidates).toBeGreaterThan(0);
      expect(c.check?.passed).toBe(true);
      expect(c.metrics.tflops).toBeGreaterThan(0);
      if (stack!.nvml.ok) {
        expect(c.telemetry?.hz).toBeGreaterThanOrEqual(10);
        expect(c.metrics.avgWatts).toBeGreaterThan(0);
        expect(c.metrics.tflopsPerWatt).toBeGreaterThan(0);
      }
    }
  });

  it('batched and ragged shapes', () => {
    const { code, cases, stderr } = runSuite(
      '  - { workload: matmul, backends: [cuda], dtypes: [bf16, f32], shapes: ["1000x520x136", "17x4099x33"], batch: 3 }\n',
    );
    expect(code, stderr).toBe(0);
    expect(cases.map((c) => c.status)).toEqual(['ok', 'ok', 'ok', 'ok']);
  });

  it('the device copy is exact and reports bandwidth', () => {
    const { code, cases, stderr } = runSuite('  - { workload: memcpy, backends: [cuda], sizes: [67108864] }\n');
    expect(code, stderr).toBe(0);
    expect(cases[0]!.check?.passed).toBe(true);
    expect(cases[0]!.metrics.bandwidthGBps).toBeGreaterThan(50);
    expect(cases[0]!.metrics.readWriteGBps).toBeCloseTo(2 * cases[0]!.metrics.bandwidthGBps!, 6);
  });

  it.skipIf(!stack?.nccl.ok)(
    `the nccl backend's allreduce, f32 and bf16 sum in and out of place, every rank checked against float64, busbw as nccl-tests${stack?.nccl.ok ? '' : ` (skipped: ${stack && !stack.nccl.ok ? stack.nccl.reason : reason})`}`,
    () => {
      const n = stack!.devices.length;
      const { code, cases, stderr } = runSuite(
        '  - { workload: allreduce, backends: [nccl], dtypes: [f32, bf16], ops: [sum], minBytes: 1024, maxBytes: 16777216, stepFactor: 128, inPlace: [false, true] }\n',
      );
      expect(code, stderr).toBe(0);
      expect(cases).toHaveLength(2 * 3 * 2);
      for (const c of cases) {
        expect(c.status, `${c.id}: ${c.reason}`).toBe('ok');
        expect(c.timer).toBe('cuda-event');
        expect(c.impl?.kernel).toBe('nccl');
        expect(c.impl?.config?.ranks).toBe(n);
        expect(c.params.ranks).toBe(n);
        expect(c.check).toMatchObject({ passed: true, wrong: 0, checked: n * Number(c.params.count) });
        expect(c.metrics.algbwGBps).toBeGreaterThan(0);
        // nccl-tests' all-reduce bus factor 2(n−1)/n (0 on one GPU, and the notes say so).
        expect(c.metrics.busbwGBps).toBeCloseTo(c.metrics.algbwGBps! * ((2 * (n - 1)) / n), 9);
        if (n === 1) expect(c.impl?.notes?.join('\n')).toMatch(/one GPU: one rank/);
      }
    },
  );

  it.skipIf(!stack?.nccl.ok)(`NCCL all-reduce sums over the local GPUs, in and out of place${stack?.nccl.ok ? '' : ' (skipped: NCCL not loaded)'}`, async () => {
    for (const [dtype, inPlace] of [['f32', false], ['bf16', true]] as const) {
      const count = 1 << 20;
      const ar = await prepareAllReduce({ count, dtype, op: 'sum', inPlace });
      try {
        // Small integers are exact in every dtype, so the check can be exact too.
        const inputs = Array.from({ length: ar.ranks }, (_, r) => Float32Array.from(uniform(count, 5 + r), (x) => Math.round(x * 8)));
        inputs.forEach((d, r) => ar.upload(r, d));
        const outs = ar.runChecked();
        for (const out of outs) for (let i = 0; i < count; i += 997) expect(out[i]).toBe(inputs.reduce((s, d) => s + d[i]!, 0));
        expect(await ar.time(5)).toBeGreaterThan(0);
      } finally {
        ar.dispose();
      }
    }
  });
});
