/**
 * The `nccl` backend without a GPU: `gpubench list` and `gpubench run` name the missing
 * library; the planning checks (dtypes, ops, algorithm, memory) and the dtype conversions
 * around the addon's float32 upload / float64 readback are exact; and, on a fake driver
 * whose memory is host memory (one fake GPU, so one rank), a whole allreduce case goes
 * through prepareRank → upload → NaN poison → ncclAllReduce → readback → the float64
 * reference check → CUDA-event timing. The fake proves the plumbing, not NCCL: NCCL on
 * real GPUs is test/cuda-gpu.test.ts; NCCL across processes is collectives-nccl-multiprocess.test.ts.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadAddon } from '../src/kernels/cuda/addon.js';
import type { CaseResult } from '../src/harness/results/schema.js';
import { F16_TO_F32, allocate, bytesOf, fromBf16, readElement, toBf16, toF16, type CollectiveDtype } from '../src/collectives/dtypes.js';
import { checkOutput, rankInput } from '../src/collectives/reference.js';
import type { CollectiveCall } from '../src/collectives/collective.js';
import type { CollectiveParams } from '../src/collectives/workload.js';
import { withWorld } from './helpers/world.js';
import { ncclBackend } from '../src/collectives/nccl/backend.js';
import {
  F32_EXACT_INT,
  fromOutputValues,
  ncclAllReduceSupport,
  ncclBufferBytes,
  ncclNotes,
  toUploadValues,
} from '../src/collectives/nccl/allreduce-case.js';
import { buildFakes, CC } from './helpers/fake-cuda.js';
import { gpubench } from './helpers/cli.js';

// Every folder a test makes is removed after the file (they used to be left in /tmp).
const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
const tmp = () => {
  const d = mkdtempSync(join(tmpdir(), 'gpubench-nccl-'));
  dirs.push(d);
  return d;
};
const loaded = loadAddon();
const addon = 'addon' in loaded ? loaded.addon : undefined;
const SKIP_NATIVE = process.env.GPUBENCH_SKIP_NATIVE === '1';
const withAddon = addon ? it : it.skip;
const withFakes = addon && CC ? it : it.skip;

const params = (o: Partial<CollectiveParams> = {}): CollectiveParams => ({
  kind: 'allreduce', bytes: 4096, count: 1024, dtype: 'f32', op: 'sum', algorithm: 'auto', inPlace: false, ranks: 2, nodes: 1, chunkBytes: 1 << 20, ...o,
});
const GPU = { memoryBytes: 80 * 2 ** 30 };

interface Listing {
  backends: { id: string; available: boolean; reason: string | null; notes: string[] }[];
}

describe('nccl on a machine without NCCL', () => {
  it('gpubench list shows nccl unavailable, naming the missing library', () => {
    const out = join(tmp(), 'list.json');
    const r = gpubench(['list', '--json', out], { GPUBENCH_CUDA_LIBRARY_PATH: tmp() });
    expect(r.code, r.stderr).toBe(0);
    const nccl = (JSON.parse(readFileSync(out, 'utf8')) as Listing).backends.find((b) => b.id === 'nccl')!;
    expect(nccl.available).toBe(false);
    expect(nccl.reason).toMatch(SKIP_NATIVE ? /native addon not built/ : /^libcuda\.so\.1 not found: no NVIDIA driver/);
  });

  withFakes('with a driver but no libnccl, the reason is "libnccl.so.2 not found"', () => {
    const out = join(tmp(), 'list.json');
    gpubench(['list', '--json', out], { GPUBENCH_CUDA_LIBRARY_PATH: buildFakes(addon!, ['cuda']) });
    const nccl = (JSON.parse(readFileSync(out, 'utf8')) as Listing).backends.find((b) => b.id === 'nccl')!;
    expect(nccl).toMatchObject({ available: false, reason: expect.stringMatching(/^libnccl\.so\.2 not found: no NCCL/) });
  });

  it('gpubench run --backends nccl plans every size as skipped with that reason, and exits 0 with a warning', () => {
    const dir = tmp();
    const out = join(dir, 'r.json');
    const r = gpubench(['run', '--workloads', 'allreduce', '--backends', 'nccl', '-b', '8', '-e', '1KiB', '--json', out, '--reporter', 'silent'], {
      GPUBENCH_CUDA_LIBRARY_PATH: tmp(),
    });
    // The harness's rule for an unavailable backend named on the command line: its cases
    // are in the results as skipped, the run is not a failure, stderr says why.
    expect(r.code, r.stderr).toBe(0);
    const why = SKIP_NATIVE ? 'native addon not built' : 'libcuda.so.1 not found';
    expect(r.stderr).toContain(`gpubench: nccl unavailable: ${why}`);
    expect(r.stderr).toContain('no case ran (all skipped)');
    const res = JSON.parse(readFileSync(out, 'utf8')) as { run: { status: string }; cases: CaseResult[] };
    expect(res.run.status).toBe('complete');
    expect(res.cases.map((c) => c.id)).toEqual([8, 16, 32, 64, 128, 256, 512, 1024].map((b) => `allreduce/nccl/f32/sum/auto/${b}/r1h1`));
    for (const c of res.cases) {
      expect(c.status).toBe('skipped');
      expect(c.reason).toMatch(new RegExp(`^backend unavailable: ${why}`));
    }
  });

  it('in a multi-process run nccl is planned from the workers, not the coordinator: before they join it waits for them', async () => {
    // This process has no NCCL (no fake libraries on its path); the world's answer does not depend on it.
    await withWorld(4, async () =>
      expect(await ncclBackend.probe()).toMatchObject({ available: true, notes: [expect.stringMatching(/planned from the workers' own probes once they join/), expect.any(String)] }),
    );
  });
});

describe('what the nccl allreduce kernel runs', () => {
  const two = [GPU, GPU];
  it('runs f32, f16, bf16, i32 with sum, prod, min, max, avg (i32 avg as NCCL divides: toward zero), in and out of place', () => {
    for (const dtype of ['f32', 'f16', 'bf16', 'i32'] as const)
      for (const op of ['sum', 'prod', 'min', 'max', 'avg'] as const)
        for (const inPlace of [false, true]) expect(ncclAllReduceSupport(params({ dtype, op, inPlace }), two), `${dtype} ${op} ${inPlace}`).toBeUndefined();
    // In one process the addon's upload is float32 values: the other dtypes run across processes.
    expect(ncclAllReduceSupport(params({ dtype: 'u64' }), two)).toMatch(/^nccl in one process uploads float32 values.*u64 runs on nccl across processes/);
  });

  it('refuses gpubench algorithms: NCCL picks its own, NCCL_ALGO forces one', () => {
    for (const algorithm of ['ring', 'recursive-doubling', 'one-shot'])
      expect(ncclAllReduceSupport(params({ algorithm }), two)).toMatch(new RegExp(`^algorithm "${algorithm}": NCCL picks its own algorithm.*NCCL_ALGO`));
  });

  it('refuses sizes that do not fit the smallest GPU, counting both buffers out of place', () => {
    expect(ncclBufferBytes({ bytes: 100, inPlace: false })).toBe(200);
    expect(ncclBufferBytes({ bytes: 100, inPlace: true })).toBe(100);
    const big = params({ bytes: 2 ** 30, count: 2 ** 28 });
    const small = [{ memoryBytes: 2 * 2 ** 30 }, GPU];
    expect(ncclAllReduceSupport(big, small)).toMatch(/^needs 2\.0 GiB per GPU for send and receive buffers/);
    expect(ncclAllReduceSupport({ ...big, inPlace: true }, small)).toBeUndefined();
  });

  it('refuses a plan made for another rank count', () => {
    expect(ncclAllReduceSupport(params({ ranks: 4 }), two)).toMatch(/planned for 4 ranks but 2 local GPUs/);
  });

  it('says what one GPU means for busbw', () => {
    expect(ncclNotes(1).join('\n')).toMatch(/one GPU: one rank.*busbw = algbw × 2\(n−1\)\/n = 0/);
    expect(ncclNotes(8)).toHaveLength(1);
    expect(ncclNotes(8)[0]).toMatch(/^8 local GPUs as 8 ranks of one process \(ncclCommInitAll\)/);
  });
});

describe('the values the addon uploads and returns', () => {
  const call = (dtype: CollectiveDtype, op: CollectiveCall['op'] = 'sum'): CollectiveCall => ({ kind: 'allreduce', dtype, op, algorithm: 'auto', count: 5000, inPlace: false });

  it('uploads every f16 and bf16 pattern as its exact float32 value', () => {
    const all = allocate('f16', 65536) as Uint16Array;
    for (let h = 0; h < 65536; h++) all[h] = h;
    const f16 = toUploadValues('f16', all);
    const bf16 = toUploadValues('bf16', all);
    const bad: string[] = [];
    for (let h = 0; h < 65536; h++) {
      if (!(Object.is(f16[h], F16_TO_F32[h]) || Number.isNaN(f16[h]))) bad.push(`f16 ${h}`);
      if (!(Object.is(bf16[h], fromBf16(h)) || Number.isNaN(bf16[h]))) bad.push(`bf16 ${h}`);
      // Converting back with the same rounding gives the same bits (NaNs stay NaN).
      if (!Number.isNaN(f16[h]) && toF16(f16[h]!) !== h) bad.push(`f16 back ${h}`);
      if (!Number.isNaN(bf16[h]) && toBf16(bf16[h]!) !== h) bad.push(`bf16 back ${h}`);
    }
    expect(bad).toEqual([]);
  });

  withAddon('the addon’s own f32→f16/bf16 conversion (its upload path) keeps every pattern', () => {
    for (const [kind, decode] of [['f16', (h: number) => F16_TO_F32[h]!], ['bf16', fromBf16]] as const) {
      const values = Float32Array.from({ length: 65536 }, (_, h) => decode(h)).filter((v) => !Number.isNaN(v));
      const back = addon!.roundTrip(kind, values);
      let changed = 0;
      for (let i = 0; i < values.length; i++) if (!Object.is(back[i], values[i])) changed++;
      expect(changed, kind).toBe(0);
    }
  });

  it('passes f32 through untouched and i32 exactly, refusing integers float32 cannot hold', () => {
    const f = rankInput(call('f32'), 2, 0, 42) as Float32Array;
    expect(toUploadValues('f32', f)).toBe(f);
    const i = rankInput(call('i32'), 2, 1, 42) as Int32Array;
    expect(Array.from(toUploadValues('i32', i))).toEqual(Array.from(i));
    expect(Array.from(toUploadValues('i32', Int32Array.of(F32_EXACT_INT, -F32_EXACT_INT)))).toEqual([F32_EXACT_INT, -F32_EXACT_INT]);
    expect(() => toUploadValues('i32', Int32Array.of(0, F32_EXACT_INT + 1))).toThrow(/not exact in the addon's float32 upload/);
  });

  it('turns the float64 readback into the dtype’s bytes bit for bit, so checkOutput sees what the GPU wrote', () => {
    for (const dtype of ['f32', 'f16', 'bf16', 'i32'] as const) {
      const c = call(dtype);
      const input = rankInput(c, 1, 0, 7);
      // What the addon returns for a one-rank all-reduce: each element as float64.
      const f64 = Float64Array.from({ length: input.length }, (_, k) => readElement(dtype, input, k));
      expect(fromOutputValues(dtype, f64)).toEqual(bytesOf(input));
      expect(checkOutput(c, 1, 0, 7, fromOutputValues(dtype, f64))).toMatchObject({ passed: true, wrong: 0, checked: 5000 });
      // NaN poison left by a call that wrote nothing comes back as NaN and fails.
      if (dtype !== 'i32') expect(checkOutput(c, 1, 0, 7, fromOutputValues(dtype, new Float64Array(5000).fill(NaN)))).toMatchObject({ passed: false, wrong: 5000 });
    }
  });
});

describe('a whole nccl case on a fake driver whose memory is host memory (one fake GPU: one rank)', () => {
  const suite = (yaml: string) => {
    const f = join(tmp(), 's.yaml');
    writeFileSync(f, `schema: gpubench.suite/v1\nname: fake\nmeasure: { warmupMs: 10, minTimeMs: 5, minSamples: 3, maxSamples: 3, minSampleMs: 1 }\nworkloads:\n${yaml}`);
    return f;
  };
  const run = (nccl: string, yaml: string) => {
    const dir = buildFakes(addon!, ['cuda', 'nccl']);
    const out = join(tmp(), 'r.json');
    const r = gpubench(['run', '--suite', suite(yaml), '--json', out, '--reporter', 'silent'], { GPUBENCH_CUDA_LIBRARY_PATH: dir, FAKE_CUDA: 'host', FAKE_NCCL: nccl });
    return { ...r, cases: (JSON.parse(readFileSync(out, 'utf8')) as { cases: CaseResult[] }).cases };
  };

  withFakes('every dtype, in and out of place, is checked against the reference, timed on cuda-event, with busbw 0 for one rank', () => {
    const r = run('copy', '  - { workload: allreduce, backends: [nccl], dtypes: [f32, f16, bf16, i32], ops: [sum, avg], minBytes: 64, maxBytes: 4096, stepFactor: 8, inPlace: [false, true] }\n');
    expect(r.code, r.stderr).toBe(0);
    const ran = r.cases.filter((c) => c.status !== 'skipped');
    expect(ran).toHaveLength(4 * 2 * 3 * 2);
    for (const c of ran) {
      expect(c.status, `${c.id}: ${c.reason}`).toBe('ok');
      expect(c.timer).toBe('cuda-event');
      expect(c.device).toBe('1 rank: NVIDIA Fake H100 80GB HBM3');
      expect(c.check).toMatchObject({ passed: true, wrong: 0, checked: c.params.count });
      expect(c.impl).toMatchObject({ kernel: 'nccl', config: { ncclVersion: '2.27.3', ranks: 1, devices: '0' } });
      expect(c.impl!.notes!.join('\n')).toMatch(/one GPU: one rank/);
      expect(c.params.ranks).toBe(1);
      expect(c.metrics.algbwGBps).toBeGreaterThan(0);
      expect(c.metrics.busbwGBps).toBe(0);
    }
  });

  withFakes('an all-reduce that writes nothing fails on the poisoned receive buffer, every element of it, i32 too', () => {
    const r = run('nothing', '  - { workload: allreduce, backends: [nccl], dtypes: [f32, i32, bf16], ops: [sum, max], minBytes: 1024, maxBytes: 1024 }\n');
    expect(r.code, r.stderr).toBe(1);
    expect(r.cases.map((c) => c.id)).toEqual(['f32/sum', 'f32/max', 'i32/sum', 'i32/max', 'bf16/sum', 'bf16/max'].map((x) => `allreduce/nccl/${x}/auto/1024/r1h1`));
    for (const c of r.cases) {
      const count = 1024 / (c.id.includes('bf16') ? 2 : 4);
      expect(c, c.id).toMatchObject({ status: 'failed', check: { passed: false, wrong: count } });
    }
  });
});
