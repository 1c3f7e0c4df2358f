/**
 * The node-acceptance workloads on the CUDA addon without a GPU: honest "unavailable"
 * without a driver, and whole cases on the fake driver whose memory is host memory
 * (FAKE_CUDA=host runs the PTX kernels as the PTX says they behave): nvbandwidth's host
 * copies (copy engine and SM, each direction and bidirectional), the device<->device matrix,
 * launch latency, and the burn with its per-GPU verdicts. Every copy is compared byte for
 * byte, before the timed runs and after them.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadAddon, type NativeAddon } from '../src/kernels/cuda/addon.js';
import type { ResultsFile } from '../src/harness/results/schema.js';
import { buildFakes, CC } from './helpers/fake-cuda.js';
import { gpubench } from './helpers/cli.js';

const loaded = loadAddon();
const addon: NativeAddon | undefined = 'addon' in loaded ? loaded.addon : undefined;
const withFakes = addon && CC ? it : it.skip;

const dirs: string[] = [];
const tmp = () => {
  const d = mkdtempSync(join(tmpdir(), 'gpubench-accept-'));
  dirs.push(d);
  return d;
};
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

let fakes = '';
beforeAll(() => {
  if (addon && CC) fakes = buildFakes(addon, ['cuda', 'cublasLt', 'nvml']);
  if (fakes) dirs.push(fakes);
});

const suite = (yaml: string) => {
  const f = join(tmp(), 's.yaml');
  writeFileSync(f, `schema: gpubench.suite/v1\nname: accept\nmeasure: { warmupMs: 5, maxWarmupMs: 5, minTimeMs: 3, minSamples: 2, maxSamples: 3, minSampleMs: 1 }\nworkloads:\n${yaml}`);
  return f;
};

/** Runs a suite (or extra args) on the fakes; returns the exit code, stderr and results. */
function run(yaml: string, env: NodeJS.ProcessEnv, args: string[] = []) {
  const out = join(tmp(), 'r.json');
  const r = gpubench(['run', '--suite', suite(yaml), '--json', out, ...args], { GPUBENCH_CUDA_LIBRARY_PATH: fakes, FAKE_CUDA: 'host', FAKE_NVML: '1', ...env });
  const results = JSON.parse(readFileSync(out, 'utf8')) as ResultsFile;
  return { ...r, results, cases: results.cases };
}

describe('without a GPU', () => {
  it('every acceptance workload says cuda is unavailable: libcuda.so.1 not found', () => {
    const out = join(tmp(), 'r.json');
    const yaml = '  - { workload: hostcopy, sizes: [4096] }\n  - { workload: peercopy, sizes: [4096] }\n  - { workload: launch }\n  - { workload: burn, sizes: [32] }\n';
    const r = gpubench(['run', '--suite', suite(yaml), '--backends', 'cuda', '--json', out, '--reporter', 'silent'], { GPUBENCH_CUDA_LIBRARY_PATH: tmp() });
    expect(r.stderr).toMatch(/cuda unavailable: libcuda\.so\.1 not found/);
    const cases = (JSON.parse(readFileSync(out, 'utf8')) as ResultsFile).cases;
    expect(new Set(cases.map((c) => c.workload))).toEqual(new Set(['hostcopy', 'peercopy', 'launch', 'burn']));
    for (const c of cases) {
      expect(c.status).toBe('skipped');
      expect(c.reason).toMatch(/^backend unavailable: libcuda\.so\.1 not found/);
    }
  });
});

describe('host<->device copies as nvbandwidth', () => {
  withFakes('all eight testcases run on every GPU, are checked byte for byte before and after timing, and report bytes copied / time', () => {
    // 4100 bytes: 256 16-byte vectors and a 1-word tail for the SM copy kernel.
    const { code, stderr, cases, results } = run('  - { workload: hostcopy, backends: [cuda], sizes: [4100] }\n', { FAKE_CUDA_DEVICES: '2' }, ['--reporter', 'console']);
    expect(code, stderr).toBe(0);
    const testcases = [
      'host_to_device_memcpy_ce', 'device_to_host_memcpy_ce', 'host_to_device_bidirectional_memcpy_ce', 'device_to_host_bidirectional_memcpy_ce',
      'host_to_device_memcpy_sm', 'device_to_host_memcpy_sm', 'host_to_device_bidirectional_memcpy_sm', 'device_to_host_bidirectional_memcpy_sm',
    ];
    expect(cases.map((c) => c.id)).toEqual(testcases.flatMap((t) => [`hostcopy/cuda/${t}/0/4100B`, `hostcopy/cuda/${t}/1/4100B`]));
    for (const c of cases) {
      expect(c.status, c.reason).toBe('ok');
      expect(c.timer).toBe('cuda-event');
      const bidir = c.params.bidirectional === true;
      // The measured destination, and the interfering copy's (twice the size) when bidirectional.
      expect(c.check).toMatchObject({ passed: true, wrong: 0, checked: bidir ? 3 * 4100 : 4100, afterTiming: true });
      expect(c.checkBeforeTiming).toMatchObject({ passed: true, wrong: 0, checked: bidir ? 3 * 4100 : 4100 });
      // The fake's events say 1 ms per timed call: the headline is exactly bytes / per-copy time.
      expect(c.metrics.bandwidthGBps).toBeCloseTo(4100 / (c.stats!.medianMs / 1e3) / 1e9, 9);
      expect(c.metrics.readWriteGBps).toBeUndefined();
    }
    // nvbandwidth's table: a row per testcase, a column per GPU.
    const table = results.summaries!.hostcopy![0]!;
    expect(table.columns).toEqual(['testcase', '0', '1']);
    expect(table.rows.map((r) => r[0])).toEqual(testcases);
    expect(table.rows[0]![2]).toBeCloseTo(cases[1]!.metrics.bandwidthGBps!, 9);
    expect(stderr).toMatch(/hostcopy on cuda, 4100 B: CPU <-> GPU\(column\) bandwidth/);
    const byId = (t: string) => cases.find((c) => c.id === `hostcopy/cuda/${t}/0/4100B`)!;
    expect(byId('host_to_device_memcpy_ce').impl).toMatchObject({ kernel: 'cuMemcpyHtoDAsync', config: { hostMemory: 'pinned (cuMemHostAlloc)' } });
    expect(byId('device_to_host_memcpy_ce').impl!.kernel).toBe('cuMemcpyDtoHAsync');
    expect(byId('host_to_device_bidirectional_memcpy_ce').impl!.config).toMatchObject({ interferingCopyBytes: 8200 });
    expect(byId('host_to_device_memcpy_sm').impl!.kernel).toBe('gb_copy (PTX, SM)');
  });
  withFakes('a copy that goes wrong only in the timed runs fails the case after them (exit 1)', () => {
    // The checked run's copy is the first; every later one flips a byte.
    const { code, cases } = run('  - { workload: hostcopy, backends: [cuda], sizes: [4096], testcases: [host_to_device_memcpy_ce, device_to_host_memcpy_sm] }\n', { FAKE_CUDA_CORRUPT_AFTER: '1' }, ['--reporter', 'silent']);
    expect(code).toBe(1);
    expect(cases[0]).toMatchObject({ status: 'failed', check: { passed: false, wrong: 1, checked: 4096, afterTiming: true } });
    expect(cases[0]!.reason).toMatch(/^wrong result after the timed runs: 1 wrong of 4096 checked/);
    expect(cases[0]!.stats).toBeDefined();
    expect(cases[1]!.status).toBe('failed');
  });
});

describe('the device<->device matrix', () => {
  withFakes('one case per ordered pair, read and write, and the matrix in the results and on the console', () => {
    const { code, stderr, cases, results } = run('  - { workload: peercopy, backends: [cuda], sizes: [4096] }\n', { FAKE_CUDA_DEVICES: '3' }, ['--reporter', 'console']);
    expect(code, stderr).toBe(0);
    expect(cases).toHaveLength(12);
    for (const c of cases) {
      expect(c.status, c.reason).toBe('ok');
      expect(c.check).toMatchObject({ passed: true, checked: 4096, afterTiming: true });
      expect(c.impl).toMatchObject({ kernel: 'cuMemcpyPeerAsync' });
    }
    // read: the destination's context pulls (row = destination); write: the source's pushes.
    const read01 = cases.find((c) => c.id === 'peercopy/cuda/device_to_device_memcpy_read_ce/0-1/4096B')!;
    expect(read01.params).toMatchObject({ src: 1, dst: 0, mode: 'read' });
    expect(read01.impl!.config).toMatchObject({ context: 'cuda:0' });
    const write01 = cases.find((c) => c.id === 'peercopy/cuda/device_to_device_memcpy_write_ce/0-1/4096B')!;
    expect(write01.params).toMatchObject({ src: 0, dst: 1, mode: 'write' });
    const [read, write] = results.summaries!.peercopy!;
    expect(read!.columns).toEqual(['', '0', '1', '2']);
    const m = (read!.data as { matrixGBps: (number | null)[][] }).matrixGBps;
    expect(m[0]![0]).toBeNull();
    expect(m[0]![1]).toBeCloseTo(read01.metrics.bandwidthGBps!, 9);
    expect(write!.title).toMatch(/^device_to_device_memcpy_write_ce on cuda, 4096 B: memcpy CE GPU\(row\) -> GPU\(column\)/);
    expect(stderr).toMatch(/device_to_device_memcpy_read_ce on cuda, 4096 B/);
    expect(stderr).toMatch(/N\/A/);
  });

  withFakes('pairs without peer access, or one GPU, are skipped saying why', () => {
    const nopeer = run('  - { workload: peercopy, backends: [cuda], sizes: [4096], testcases: [device_to_device_memcpy_read_ce] }\n', { FAKE_CUDA_DEVICES: '2', FAKE_CUDA_NOPEER: '1' }, ['--reporter', 'silent']);
    expect(nopeer.cases.map((c) => c.reason)).toEqual([
      'cuda:0 cannot access cuda:1 as a peer (nvbandwidth leaves the pair N/A)',
      'cuda:1 cannot access cuda:0 as a peer (nvbandwidth leaves the pair N/A)',
    ]);
    const one = run('  - { workload: peercopy, backends: [cuda], sizes: [4096], testcases: [device_to_device_memcpy_write_ce] }\n', {}, ['--reporter', 'silent']);
    expect(one.cases.map((c) => c.reason)).toEqual(['needs two GPUs; this host has 1', 'needs two GPUs; this host has 1']);
  });
});

describe('kernel-launch latency', () => {
  withFakes('the empty PTX kernel runs (its checked launch stores the value), timed on events and on the host', () => {
    const { code, stderr, cases } = run('  - { workload: launch, backends: [cuda] }\n', {}, ['--reporter', 'console']);
    expect(code, stderr).toBe(0);
    expect(cases.map((c) => [c.id, c.timer, c.status])).toEqual([
      ['launch/cuda/device', 'cuda-event', 'ok'],
      ['launch/cuda/host-submit', 'wall-clock', 'ok'],
      ['launch/cuda/host-roundtrip', 'wall-clock', 'ok'],
    ]);
    for (const c of cases) {
      expect(c.check).toMatchObject({ passed: true, checked: 1 });
      expect(c.metrics.usPerLaunch).toBeCloseTo(c.stats!.medianMs * 1e3, 9);
      expect(c.metrics.launchesPerSecond).toBeCloseTo(1e6 / c.metrics.usPerLaunch!, 6);
    }
    expect(stderr).toMatch(/µs\/launch/);
  });
});

describe('burn, as gpu-burn', () => {
  const BURN = '  - { workload: burn, backends: [cuda], sizes: [32] }\n';
  const env = { FAKE_CUDA_DEVICES: '2', FAKE_LT: '1', FAKE_LT_COMPUTE: '1' };

  withFakes('every GPU multiplies and compares for --burn-seconds: OK per GPU, NVML counters before and after', () => {
    const { code, stderr, cases, results } = run(BURN, env, ['--burn-seconds', '0.3', '--reporter', 'console']);
    expect(code, stderr).toBe(0);
    const c = cases[0]! as (typeof cases)[number] & { burn: { gpus: { device: string; verdict: string; faultyElements: number; gemms: number; before: Record<string, unknown>; after: Record<string, unknown> }[] } };
    expect(c).toMatchObject({ id: 'burn/cuda/f32/32/0.3s', status: 'ok', timer: 'cuda-event', device: '2x NVIDIA Fake H100 80GB HBM3' });
    expect(c.check).toMatchObject({ passed: true, wrong: 0, maxRelError: 0, afterTiming: true });
    // The first GEMM of each GPU against the float64 reference, on the sampled rows (all 32 here).
    expect(c.checkBeforeTiming).toMatchObject({ passed: true, wrong: 0, checked: 2 * 32 * 32 });
    expect(c.checkBeforeTiming!.maxRelError).toBeLessThan(1e-6);
    expect(c.burn.gpus.map((g) => [g.device, g.verdict, g.faultyElements])).toEqual([['cuda:0', 'OK', 0], ['cuda:1', 'OK', 0]]);
    for (const g of c.burn.gpus) {
      expect(g.gemms).toBeGreaterThan(0);
      expect(g.before).toMatchObject({ temperatureC: 47, eccEnabled: true, eccCorrectedVolatile: 1111, eccCorrectedAggregate: 2222, eccUncorrectedVolatile: 0, retiredPagesSingleBit: 0, remappedRowsCorrectable: 7, throttleReasons: ['sw-power-cap'], unsupported: [] });
      expect(g.after).toMatchObject({ smClockMHz: 1980, memClockMHz: 2619 });
    }
    // Each GEMM compared every element with the first: checked = GEMMs × 32².
    expect(c.check!.checked).toBe((c.burn.gpus[0]!.gemms + c.burn.gpus[1]!.gemms) * 32 * 32);
    expect(c.metrics.tflops).toBeGreaterThan(0);
    expect(results.summaries!.burn![0]!.rows.map((r) => r.slice(0, 3))).toEqual([['cuda:0', 'OK', '0'], ['cuda:1', 'OK', '0']]);
    expect(stderr).toMatch(/per-GPU verdict/);
  });

  withFakes('a corrupted GEMM on one GPU makes it FAULTY with its count, and the run exits 1', () => {
    // Calls: reference on cuda:0, on cuda:1, then the loop alternates: the 6th is cuda:1's.
    const { code, cases } = run(BURN, { ...env, FAKE_LT_FLIP: '6' }, ['--burn-seconds', '0.2', '--reporter', 'silent']);
    expect(code).toBe(1);
    const c = cases[0]! as (typeof cases)[number] & { burn: { gpus: { verdict: string; faultyElements: number }[] } };
    expect(c.status).toBe('failed');
    expect(c.burn.gpus.map((g) => [g.verdict, g.faultyElements])).toEqual([['OK', 0], ['FAULTY', 1]]);
    expect(c.reason).toMatch(/^FAULTY: cuda:1 \(1 faulty elements in \d+ GEMMs\)$/);
    expect(c.check).toMatchObject({ passed: false, wrong: 1 });
  });

  withFakes('new uncorrectable ECC errors during the burn make the GPU FAULTY', () => {
    const { code, cases } = run(BURN, { ...env, FAKE_CUDA_DEVICES: '1', FAKE_NVML_ECC_GROWTH: '1' }, ['--burn-seconds', '0.1', '--reporter', 'silent']);
    expect(code).toBe(1);
    expect(cases[0]!.reason).toMatch(/^FAULTY: cuda:0 \(volatile uncorrectable ECC errors 0 -> 1\)$/);
  });

  withFakes('a GEMM that writes nothing fails the reference check on its NaN poison', () => {
    const { code, cases } = run(BURN, { FAKE_LT: '1' }, ['--burn-seconds', '0.1', '--reporter', 'silent']);
    expect(code).toBe(1);
    expect(cases[0]!.reason).toMatch(/^wrong result: non-finite output/);
  });

  it('--burn-seconds must be a positive number of seconds (exit 2, naming the option)', () => {
    const r = gpubench(['run', '--workloads', 'burn', '--burn-seconds', '0']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--burn-seconds/);
  });
});
