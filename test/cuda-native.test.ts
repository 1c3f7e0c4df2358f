/**
 * The native CUDA addon without a GPU: it builds and loads, every missing or broken library
 * becomes an actionable reason (real dlopen against empty folders and fake .so files), the
 * libraries' statuses become errors with their own strings, and nothing crashes the process.
 * Library loading is per process, so each scenario runs the real CLI in a child process.
 */
import { describe, expect, it } from 'vitest';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { loadAddon, type NativeAddon } from '../src/kernels/cuda/addon.js';
import { candidates, searchDirs, SONAMES } from '../src/kernels/cuda/libraries.js';
import { bf16round, fp8round } from '../src/kernels/matmul/round.js';
import { f16round } from '@petamoriken/float16';
import { uniform } from '../src/harness/random.js';
import type { CaseResult } from '../src/harness/results/schema.js';
import { buildFakes, CC } from './helpers/fake-cuda.js';
import { gpubench, ROOT } from './helpers/cli.js';

const tmp = () => mkdtempSync(join(tmpdir(), 'gpubench-cuda-'));
const loaded = loadAddon();
/** CI builds the addon in `npm ci`; only GPUBENCH_SKIP_NATIVE=1 excuses its absence. */
const SKIP_NATIVE = process.env.GPUBENCH_SKIP_NATIVE === '1';
const addon: NativeAddon | undefined = 'addon' in loaded ? loaded.addon : undefined;
const withAddon = addon ? it : it.skip;
const withFakes = addon && CC ? it : it.skip;

interface Listing {
  backends: { id: string; available: boolean; reason: string | null; notes: string[]; devices: Record<string, unknown>[] }[];
}

function list(env: NodeJS.ProcessEnv): { code: number; stderr: string; byId: Record<string, Listing['backends'][number]> } {
  const out = join(tmp(), 'list.json');
  const r = gpubench(['list', '--json', out], env);
  const j = JSON.parse(readFileSync(out, 'utf8')) as Listing;
  // A CI run once saw status −1 here (a signal, after the listing was written): say which.
  return { code: r.code, stderr: r.signal ? `ended on ${r.signal}\n${r.stderr}` : r.stderr, byId: Object.fromEntries(j.backends.map((b) => [b.id, b])) };
}

describe('the native addon', () => {
  it('is built by npm ci and loads', () => {
    if (SKIP_NATIVE) return;
    expect('reason' in loaded ? loaded.reason : '').toBe('');
    expect(addon!.abi).toBe(1);
    expect(Object.keys(addon!)).toEqual(expect.arrayContaining(['load', 'cudaInit', 'devices', 'Gemm', 'Copy', 'Sampler', 'NcclAllReduce']));
  });

  it('explains a missing build: "native addon not built"', () => {
    const r = loadAddon(join(tmp(), 'nowhere.node'));
    expect('reason' in r && r.reason).toMatch(/^native addon not built: .*\(build it with `npm rebuild gpubench`, or `npm run build:native` in a checkout of gpubench; needs g\+\+, make, python3\)$/);
  });

  withAddon('calls that need an unloaded library throw, they do not crash', () => {
    // This process has loaded no CUDA library (nothing here opens one).
    expect(() => addon!.ncclVersion()).toThrow(/nccl library is not loaded/);
    expect(() => new addon!.Gemm({ device: 0, m: 8, n: 8, k: 8, batch: 1, dtype: 'f32', workspaceBytes: 0 })).toThrow(/not loaded/);
    expect(() => new addon!.Sampler('GPU-0', 50)).toThrow(/nvml library is not loaded/);
  });

  withAddon('reports every candidate it tried when a library is absent', () => {
    const dir = tmp();
    const r = addon!.load('nvml', [join(dir, 'libnvidia-ml.so.1')]);
    expect(r.ok).toBe(false);
    expect(r.attempts[0]).toMatch(/libnvidia-ml\.so\.1: .*cannot open shared object file/);
  });
});

describe('fp8 e4m3 and the storage roundings', () => {
  it('rounds to nearest even on e4m3 known values', () => {
    expect(fp8round(0.3)).toBe(0.3125);
    expect(fp8round(1)).toBe(1);
    expect(fp8round(1.0625)).toBe(1); // halfway between 1 and 1.125: even mantissa
    expect(fp8round(1.1875)).toBe(1.25); // halfway between 1.125 and 1.25: even is 1.25
    expect(fp8round(448)).toBe(448);
    expect(fp8round(1000)).toBe(448); // saturates (no infinity in e4m3fn)
    expect(fp8round(-470)).toBe(-448);
    expect(fp8round(2 ** -9)).toBe(2 ** -9); // smallest subnormal
    expect(fp8round(2 ** -10)).toBe(0); // a tie, to even (zero)
    expect(fp8round(3 * 2 ** -10)).toBe(2 ** -8);
    expect(fp8round(2 ** -6)).toBe(2 ** -6); // smallest normal
    expect(Object.is(fp8round(-0), -0)).toBe(true);
    expect(Number.isNaN(fp8round(NaN))).toBe(true);
  });

  it('every result is one of the 253 finite e4m3 values', () => {
    const finite = new Set<number>();
    for (let e = 1; e <= 15; e++) for (let m = 0; m < 8; m++) if (!(e === 15 && m === 7)) finite.add((1 + m / 8) * 2 ** (e - 7));
    for (let m = 0; m < 8; m++) finite.add((m / 8) * 2 ** -6);
    const xs = uniform(20000, 7);
    for (const x of xs) expect(finite.has(Math.abs(fp8round(x * 600)))).toBe(true);
  });

  withAddon('the TypeScript roundings agree bit for bit with the addon’s conversions', () => {
    const xs = Float32Array.from([...uniform(50000, 3)].map((x, i) => x * 2 ** ((i % 40) - 20)));
    xs.set([0, -0, 448, 449, 464, 480, 65504, 65520, 2 ** -9, 2 ** -10, 2 ** -24, 2 ** -25, 3 * 2 ** -25], 0);
    const check = (kind: 'f16' | 'bf16' | 'fp8', ts: (x: number) => number) => {
      const got = addon!.roundTrip(kind, xs);
      const want = Float32Array.from(xs, ts);
      let bad = 0;
      for (let i = 0; i < xs.length; i++) if (!Object.is(got[i], want[i])) bad++;
      expect(bad, kind).toBe(0);
    };
    check('fp8', fp8round);
    check('bf16', bf16round);
    check('f16', f16round);
  });
});

describe('where the CUDA libraries are looked for', () => {
  it('GPUBENCH_CUDA_LIBRARY_PATH pins the folders and turns off the system search', () => {
    expect(searchDirs({ GPUBENCH_CUDA_LIBRARY_PATH: '/a:/b' })).toEqual({ dirs: ['/a', '/b'], system: false });
    expect(candidates('cuda', { GPUBENCH_CUDA_LIBRARY_PATH: tmp() })).toEqual([]);
  });

  it('searches LD_LIBRARY_PATH, then CUDA_HOME, then Python wheel folders, then the bare soname', () => {
    const root = tmp();
    const ld = join(root, 'ld');
    const home = join(root, 'cuda');
    const venv = join(root, 'venv');
    const wheel = join(venv, 'lib', 'python3.12', 'site-packages', 'nvidia', 'cublas', 'lib');
    for (const d of [ld, join(home, 'lib64'), wheel]) mkdirSync(d, { recursive: true });
    writeFileSync(join(ld, 'libcublasLt.so.12'), '');
    writeFileSync(join(home, 'lib64', 'libcublasLt.so.13'), '');
    writeFileSync(join(wheel, 'libcublasLt.so.12'), '');
    const c = candidates('cublasLt', { LD_LIBRARY_PATH: ld, CUDA_HOME: home, VIRTUAL_ENV: venv });
    expect(c.slice(0, 3)).toEqual([join(ld, 'libcublasLt.so.12'), join(home, 'lib64', 'libcublasLt.so.13'), join(wheel, 'libcublasLt.so.12')]);
    expect(c.slice(-SONAMES.cublasLt.length)).toEqual(SONAMES.cublasLt);
  });
});

describe('gpubench list without a GPU', () => {
  it('shows cuda and nccl unavailable: libcuda.so.1 not found: no NVIDIA driver', () => {
    const { code, stderr, byId } = list({ GPUBENCH_CUDA_LIBRARY_PATH: tmp() });
    expect(code, stderr).toBe(0);
    const expected = SKIP_NATIVE ? /native addon not built/ : /^libcuda\.so\.1 not found: no NVIDIA driver/;
    expect(byId.cuda!.available).toBe(false);
    expect(byId.cuda!.reason).toMatch(expected);
    expect(byId.nccl!.reason).toMatch(expected);
  });

  it('says which build is missing when the addon is not there', () => {
    const { byId } = list({ GPUBENCH_NATIVE_ADDON: join(tmp(), 'gone.node') });
    expect(byId.cuda!.reason).toMatch(/^native addon not built/);
  });

  withFakes('a libcuda.so.1 without the driver entry points: "lacks …: not a usable cuda library"', () => {
    const dir = buildFakes(addon!, ['cuda'], { cuda: ['cuDriverGetVersion', 'cuMemAlloc_v2'] });
    const { byId } = list({ GPUBENCH_CUDA_LIBRARY_PATH: dir });
    expect(byId.cuda!.reason).toBe(`libcuda.so.1 at ${join(dir, 'libcuda.so.1')} lacks cuDriverGetVersion, cuMemAlloc_v2: not a usable cuda library or too old`);
  });

  withFakes('cuInit failing gives the driver’s own error name and string, with a hint', () => {
    const dir = buildFakes(addon!, ['cuda']);
    const { byId } = list({ GPUBENCH_CUDA_LIBRARY_PATH: dir, FAKE_CUDA: 'nodevice' });
    expect(byId.cuda!.reason).toBe(
      'cuda cuInit failed: CUDA_ERROR_NO_DEVICE: no CUDA-capable device is detected (code 100); no GPU is visible to this process: check nvidia-smi and CUDA_VISIBLE_DEVICES',
    );
    const zero = list({ GPUBENCH_CUDA_LIBRARY_PATH: dir, FAKE_CUDA: 'zero' });
    expect(zero.byId.cuda!.reason).toMatch(/reports no CUDA devices/);
  });

  withFakes('a driver with one GPU but no cuBLASLt, NVML or NCCL: available, each gap named', () => {
    const dir = buildFakes(addon!, ['cuda']);
    const { byId } = list({ GPUBENCH_CUDA_LIBRARY_PATH: dir });
    const cuda = byId.cuda!;
    expect(cuda.available).toBe(true);
    expect(cuda.devices[0]).toMatchObject({
      backend: 'cuda',
      id: 'cuda:0',
      name: 'NVIDIA Fake H100 80GB HBM3',
      vendor: 'NVIDIA',
      memoryBytes: 80 * 2 ** 30,
      architecture: 'sm_90',
      uuid: 'GPU-00112233-4455-6677-8899-aabbccddeeff',
      limits: expect.objectContaining({ smCount: 132, computeCapability: 9 }),
    });
    expect(cuda.devices[0]!.features).toContain('fp8');
    expect(cuda.notes.join('\n')).toMatch(/matmul unavailable: libcublasLt\.so\.13 not found: no cuBLAS/);
    expect(cuda.notes.join('\n')).toMatch(/no telemetry: libnvidia-ml\.so\.1 not found/);
    expect(byId.nccl!.reason).toMatch(/^libnccl\.so\.2 not found: no NCCL/);
  });

  withFakes('NVML and NCCL statuses come back with their own strings', () => {
    const dir = buildFakes(addon!, ['cuda', 'nvml', 'nccl']);
    const { byId } = list({ GPUBENCH_CUDA_LIBRARY_PATH: dir });
    expect(byId.cuda!.notes.join('\n')).toContain(
      'no telemetry: nvml nvmlInit_v2 failed: NVML_ERROR_9: Driver Not Loaded (code 9); NVML: the NVIDIA driver is not loaded',
    );
    expect(byId.nccl!.available).toBe(true);
    expect(byId.nccl!.notes[0]).toMatch(/^NCCL 2\.27\.3: .*libnccl\.so\.2$/);
    // ncclCommInitAll fails in the fake: the error carries NCCL's name and string.
    const script = `import { prepareAllReduce } from './dist/kernels/cuda/nccl.js';
      try { await prepareAllReduce({ count: 16, dtype: 'f32', op: 'sum', inPlace: false }); console.log('no error'); }
      catch (e) { console.log(JSON.stringify({ name: e.name, library: e.library, statusName: e.statusName, message: e.message })); }`;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { cwd: ROOT, encoding: 'utf8', env: { ...process.env, GPUBENCH_CUDA_LIBRARY_PATH: dir } });
    const e = JSON.parse(r.stdout.trim()) as { name: string; library: string; statusName: string; message: string };
    expect(e).toMatchObject({ name: 'CudaLibraryError', library: 'nccl', statusName: 'ncclUnhandledCudaError' });
    expect(e.message).toMatch(/^nccl ncclCommInitAll failed: ncclUnhandledCudaError: unhandled cuda error .*\(code 1\); a CUDA call inside NCCL failed/);
  });

  withFakes('a run on a driver that computes nothing fails its cases, it does not crash or count them', () => {
    const dir = buildFakes(addon!, ['cuda']);
    const out = join(tmp(), 'r.json');
    const suite = join(tmp(), 's.yaml');
    writeFileSync(
      suite,
      'schema: gpubench.suite/v1\nname: fake\nworkloads:\n  - workload: memcpy\n    backends: [cuda]\n    sizes: [4096]\n  - workload: matmul\n    backends: [cuda]\n    sizes: [64]\n    dtypes: [bf16]\n',
    );
    const r = gpubench(['run', '--suite', suite, '--json', out, '--reporter', 'silent'], { GPUBENCH_CUDA_LIBRARY_PATH: dir });
    expect(r.code, r.stderr).toBe(1);
    const res = JSON.parse(readFileSync(out, 'utf8')) as { cases: { id: string; status: string; reason?: string }[] };
    const byId = Object.fromEntries(res.cases.map((c) => [c.id, c]));
    // The fake copy writes nothing: the NaN-poisoned output fails the exact check.
    expect(byId['memcpy/cuda/4096B']).toMatchObject({ status: 'failed' });
    expect(byId['memcpy/cuda/4096B']!.reason).toMatch(/^wrong result: .* 1024 wrong of 1024 checked/);
    expect(byId['matmul/cuda/bf16/64x64x64']).toMatchObject({ status: 'skipped' });
    expect(byId['matmul/cuda/bf16/64x64x64']!.reason).toMatch(/libcublasLt\.so\.13 not found/);
  });

  withFakes('cuBLASLt statuses surface with cuBLAS names when a GEMM cannot be planned', () => {
    const dir = buildFakes(addon!, ['cuda', 'cublasLt']);
    const out = join(tmp(), 'r.json');
    const r = gpubench(['run', '--backends', 'cuda', '--workloads', 'matmul', '--sizes', '32', '--dtypes', 'f32', '--json', out, '--reporter', 'silent'], {
      GPUBENCH_CUDA_LIBRARY_PATH: dir,
    });
    expect(r.code, r.stderr).toBe(1);
    const res = JSON.parse(readFileSync(out, 'utf8')) as { cases: { status: string; reason?: string }[] };
    // The fake heuristic returns success with zero candidates.
    expect(res.cases[0]).toMatchObject({ status: 'failed' });
    expect(res.cases[0]!.reason).toBe(
      'setup failed: cublasLt cublasLtMatmulAlgoGetHeuristic failed: CUBLAS_STATUS_NOT_SUPPORTED: no algorithm for this problem (code 15); cuBLASLt has no kernel for this dtype/shape on this GPU (fp8 needs compute capability 8.9+ and dimensions divisible by 16)',
    );
  });
});

describe('the install-time build', () => {
  /** A copy of the build inputs in a temp folder, so a failed build cannot touch the real one. */
  function sandbox(): string {
    const root = tmp();
    mkdirSync(join(root, 'scripts'));
    mkdirSync(join(root, 'native', 'src'), { recursive: true });
    cpSync(join(ROOT, 'scripts', 'build-native.mjs'), join(root, 'scripts', 'build-native.mjs'));
    cpSync(join(ROOT, 'native', 'binding.gyp'), join(root, 'native', 'binding.gyp'));
    cpSync(join(ROOT, 'native', 'src'), join(root, 'native', 'src'), { recursive: true });
    symlinkSync(join(ROOT, 'node_modules'), join(root, 'node_modules'));
    return root;
  }

  it('never fails the install: a broken compiler leaves a reason and exit status 0', () => {
    const root = sandbox();
    const r = spawnSync(process.execPath, [join(root, 'scripts', 'build-native.mjs')], {
      encoding: 'utf8',
      env: { ...process.env, CXX: '/bin/false', CC: '/bin/false' },
    });
    expect(r.status).toBe(0);
    expect(r.stderr).toMatch(/gpubench: native CUDA addon not built \(node-gyp failed/);
    expect(readFileSync(join(root, 'native', 'build', 'gpubench-build-error.txt'), 'utf8')).toMatch(/^node-gyp failed/);
    expect(existsSync(join(root, 'native', 'build', 'Release', 'gpubench_native.node'))).toBe(false);
  });

  it('GPUBENCH_SKIP_NATIVE=1 skips it, and the reason reaches the probe', () => {
    const root = sandbox();
    const r = spawnSync(process.execPath, [join(root, 'scripts', 'build-native.mjs')], { encoding: 'utf8', env: { ...process.env, GPUBENCH_SKIP_NATIVE: '1' } });
    expect(r.status).toBe(0);
    expect(readFileSync(join(root, 'native', 'build', 'gpubench-build-error.txt'), 'utf8').trim()).toBe('GPUBENCH_SKIP_NATIVE=1');
  });
});

describe('a whole case on a fake driver whose memory is host memory', () => {
  const suite = (yaml: string) => {
    const f = join(tmp(), 's.yaml');
    writeFileSync(f, `schema: gpubench.suite/v1\nname: fake\nmeasure: { warmupMs: 20, minTimeMs: 5, minSamples: 3, maxSamples: 5, minSampleMs: 1 }\nworkloads:\n${yaml}`);
    return f;
  };

  withFakes('memcpy runs end to end: checked, timed on cuda-event, NVML power and energy in the metrics', () => {
    const dir = buildFakes(addon!, ['cuda', 'nvml']);
    const out = join(tmp(), 'r.json');
    const r = gpubench(['run', '--suite', suite('  - { workload: memcpy, backends: [cuda], sizes: [4096] }\n'), '--json', out, '--reporter', 'silent'], {
      GPUBENCH_CUDA_LIBRARY_PATH: dir,
      FAKE_CUDA: 'host',
      FAKE_NVML: '1',
    });
    expect(r.code, r.stderr).toBe(0);
    const c = (JSON.parse(readFileSync(out, 'utf8')) as { cases: CaseResult[] }).cases[0]!;
    expect(c).toMatchObject({ status: 'ok', timer: 'cuda-event', device: 'NVIDIA Fake H100 80GB HBM3', impl: { kernel: 'cuMemcpyDtoDAsync' } });
    expect(c.check).toMatchObject({ passed: true, wrong: 0, checked: 1024 });
    expect(c.metrics.bandwidthGBps).toBeGreaterThan(0);
    expect(c.metrics.readWriteGBps).toBeCloseTo(2 * c.metrics.bandwidthGBps!, 6);
    // The fake board draws 350 W; its energy counter follows wall time over the timed windows.
    expect(c.telemetry).toMatchObject({ source: 'nvml', energySource: 'nvml-energy-counter', maxWatts: 350, avgSmClockMHz: 1980, avgMemClockMHz: 2619, maxTemperatureC: 47, throttleReasons: ['sw-power-cap'] });
    expect(c.telemetry!.hz).toBeGreaterThanOrEqual(10);
    expect(c.metrics.avgWatts).toBeGreaterThan(300);
    expect(c.metrics.avgWatts).toBeLessThan(400);
    expect(c.metrics.energyJ).toBeCloseTo(c.metrics.avgWatts! * c.telemetry!.seconds, 6);
  });

  withFakes('matmul tunes over the heuristic candidates, and a GEMM that writes nothing fails on its NaN poison', () => {
    const dir = buildFakes(addon!, ['cuda', 'cublasLt', 'nvml']);
    const out = join(tmp(), 'r.json');
    const r = gpubench(['run', '--suite', suite('  - { workload: matmul, backends: [cuda], dtypes: [bf16, fp8], sizes: [64] }\n'), '--json', out, '--reporter', 'silent'], {
      GPUBENCH_CUDA_LIBRARY_PATH: dir,
      FAKE_CUDA: 'host',
      FAKE_LT: '3',
      FAKE_NVML: '1',
    });
    expect(r.code, r.stderr).toBe(1);
    const cases = (JSON.parse(readFileSync(out, 'utf8')) as { cases: CaseResult[] }).cases;
    for (const c of cases) {
      expect(c.status).toBe('failed');
      expect(c.reason).toMatch(/^wrong result: non-finite output/);
      expect(c.impl).toMatchObject({ kernel: 'cublasLt', autotune: { source: 'measured', candidates: 3 }, config: { heuristicRank: 0 } });
    }
    expect(cases[1]!.impl!.notes![0]).toMatch(/^fp8 e4m3 inputs \(B stored transposed, cuBLASLt TN\), bf16 output/);
  });
});

describe('timing on a worker thread', () => {
  const script = `import { cudaStack } from './dist/kernels/cuda/context.js';
    import { nativeAsync } from './dist/kernels/cuda/errors.js';
    const s = await cudaStack();
    const c = new s.stack.addon.Copy({ device: 0, bytes: 4096 });
    c.upload(new Float32Array(1024).fill(1));
    const p = nativeAsync(() => c.timeAsync(3));
    let busy = '';
    try { c.dispose(); } catch (e) { busy = e.statusName; }
    const out = { busy };
    try { out.ms = await p; } catch (e) { out.error = { name: e.name, library: e.library, call: e.call, statusName: e.statusName, message: e.message }; }
    c.dispose();
    console.log(JSON.stringify(out));`;
  const run = (env: NodeJS.ProcessEnv) => {
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { cwd: ROOT, encoding: 'utf8', env: { ...process.env, FAKE_CUDA: 'host', ...env } });
    expect(r.status, r.stderr).toBe(0);
    return JSON.parse(r.stdout.trim()) as { busy: string; ms?: number; error?: Record<string, string> };
  };

  withFakes('resolves with the event time, and the object cannot be disposed while it runs', () => {
    const dir = buildFakes(addon!, ['cuda']);
    expect(run({ GPUBENCH_CUDA_LIBRARY_PATH: dir })).toEqual({ busy: 'GPUBENCH_BUSY', ms: 1 });
  });

  withFakes('rejects with the driver’s error when a call fails on the worker thread', () => {
    const dir = buildFakes(addon!, ['cuda']);
    const out = run({ GPUBENCH_CUDA_LIBRARY_PATH: dir, FAKE_CUDA_FAULT: '1' });
    expect(out.error).toEqual({
      name: 'CudaLibraryError',
      library: 'cuda',
      call: 'cuEventElapsedTime',
      statusName: 'CUDA_ERROR_ILLEGAL_ADDRESS',
      message: 'cuda cuEventElapsedTime failed: CUDA_ERROR_ILLEGAL_ADDRESS: an illegal memory access was encountered (code 700)',
    });
  });
});
