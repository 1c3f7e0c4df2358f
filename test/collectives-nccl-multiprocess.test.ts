/**
 * NCCL across processes without MPI, bootstrapped by gpubench's control plane: real
 * `gpubench run --local-nodes 4 --backends nccl` processes (coordinator and four workers on
 * loopback), each worker one rank on one "GPU" of a fake driver whose memory is host memory
 * (FAKE_CUDA=host) with a fake NCCL that works across processes (FAKE_NCCL=multi,
 * test/helpers/fake-nccl-multi.c). Rank 0's ncclGetUniqueId goes to every rank over the
 * WebSocket data links for real; the fake stands in for the GPUs only. Every rank checks
 * its own output against the float64 reference. The faults: a rank returning wrong data
 * (exit 1, #wrong on that rank), a rank that never arrives at ncclCommInitRank, a GPU that
 * never comes up, and an NCCL bootstrap that never completes (exit 3 within a bound,
 * naming the rank where gpubench or NCCL knows it). NCCL on real GPUs: docs/cuda.md,
 * "Multi-process NCCL", for what a GPU session must check.
 */
import { describe, expect, it } from 'vitest';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ResultsFile } from '../src/harness/results/schema.js';
import { ncclDeviceFor } from '../src/collectives/nccl/comm.js';
import { ncclBackend, ncclRankSupport } from '../src/collectives/nccl/backend.js';
import type { CollectiveParams } from '../src/collectives/workload.js';
import { CC } from './helpers/fake-cuda.js';
import { fakeNcclSetup } from './helpers/fake-nccl-setup.js';
import { gpubench } from './helpers/cli.js';
import { withWorld } from './helpers/world.js';
import { setWorld } from '../src/collectives/world.js';

const { addon, why, tmp, fakes } = fakeNcclSetup('gpubench-nccl-mp-');
const withFakes = it.skipIf(!addon || !CC);

const suite = (yaml: string) => {
  const f = join(tmp(), 's.yaml');
  writeFileSync(f, `schema: gpubench.suite/v1\nname: nccl-mp\nmeasure: { warmupMs: 5, minTimeMs: 5, minSamples: 3, maxSamples: 3, minSampleMs: 1 }\nworkloads:\n${yaml}`);
  return f;
};

/** `gpubench run --local-nodes 4` on the fake GPUs; the rendezvous folders go to a folder of the test's own. */
function run(yaml: string, env: NodeJS.ProcessEnv = {}, ranks = 4) {
  const dir = tmp();
  const out = join(dir, 'r.json');
  const r = gpubench(['run', '--suite', suite(yaml), '--local-nodes', String(ranks), '--json', out, '--reporter', 'silent'], {
    GPUBENCH_CUDA_LIBRARY_PATH: fakes,
    FAKE_CUDA: 'host',
    FAKE_CUDA_DEVICES: String(ranks),
    FAKE_NCCL: 'multi',
    FAKE_NCCL_DIR: dir,
    FAKE_NCCL_TIMEOUT_MS: '20000',
    ...env,
  }, 60_000);
  return { ...r, res: ResultsFile.parse(JSON.parse(readFileSync(out, 'utf8'))), leftovers: readdirSync(dir).filter((f) => f.startsWith('gpubench-fake-nccl-')) };
}

describe(`nccl across worker processes on fake GPUs (FAKE_NCCL=multi)${why ? ` (skipped: ${why})` : ''}`, () => {

  withFakes('all-reduce 8 B … 1 MiB on 4 ranks: every case ok, checked on every rank, cuda-event, one GPU per rank, the communicator destroyed', () => {
    const r = run('  - { workload: allreduce, backends: [nccl], minBytes: 8, maxBytes: 1048576, stepFactor: 8 }\n');
    expect(r.code, r.stderr).toBe(0);
    expect(r.res.run.status).toBe('complete');
    expect(r.res.cases.map((c) => c.params.bytes)).toEqual([8, 64, 512, 4096, 32768, 262144, 1048576]);
    for (const c of r.res.cases) {
      expect(c.id).toMatch(/^allreduce\/nccl\/f32\/sum\/auto\/\d+\/r4h1$/);
      expect(c.status, `${c.id}: ${c.reason}`).toBe('ok');
      expect(c.timer).toBe('cuda-event');
      expect(c.device).toBe('4 ranks on 1 host, NCCL: NVIDIA Fake H100 80GB HBM3 ×4');
      expect(c.check).toMatchObject({ passed: true, wrong: 0, checked: 4 * Number(c.params.count) });
      expect(c.ranks!.map((k) => [k.rank, k.check!.wrong, k.check!.checked])).toEqual([0, 1, 2, 3].map((k) => [k, 0, c.params.count]));
      expect(c.impl).toMatchObject({ kernel: 'nccl', config: { ncclVersion: '2.27.3', ranks: 4, bootstrap: 'gpubench control plane' } });
      // Device = the launcher's local rank: GPUBENCH_LOCAL_RANK, which --local-nodes sets.
      expect(String(c.impl!.config!.devices)).toMatch(/^[^,]+:cuda:0,[^,]+:cuda:1,[^,]+:cuda:2,[^,]+:cuda:3$/);
      expect(c.impl!.notes!.join('\n')).toMatch(/4 processes, one GPU each \(ncclCommInitRank/);
      expect(c.metrics.busbwGBps).toBeCloseTo(c.metrics.algbwGBps! * 1.5, 6);
      // nccl-tests' convention too: host time of back-to-back calls on every rank.
      expect(c.ncclTests?.rankTimesUs).toHaveLength(4);
      expect(c.ncclTests!.timeUs).toBeGreaterThan(0);
    }
    expect(r.res.environment.nodes.map((n) => n.localRank)).toEqual([0, 1, 2, 3]);
    // ncclCommDestroy on every rank met, and rank 0 removed the rendezvous.
    expect(r.leftovers).toEqual([]);
  });

  withFakes('all-gather, reduce-scatter and broadcast (root 1), f32, bf16 and i32 (f64 all-reduce), in and out of place, max and avg', () => {
    const r = run(
      [
        '  - { workload: allgather, backends: [nccl], dtypes: [f32, bf16, i32], minBytes: 4096, maxBytes: 4096, inPlace: [false, true] }',
        '  - { workload: reducescatter, backends: [nccl], dtypes: [f32, i32], ops: [sum, max], minBytes: 4096, maxBytes: 4096, inPlace: [false, true] }',
        '  - { workload: reducescatter, backends: [nccl], dtypes: [bf16], ops: [avg], minBytes: 256, maxBytes: 256 }',
        '  - { workload: broadcast, backends: [nccl], dtypes: [f32, i32], root: 1, minBytes: 4096, maxBytes: 4096, inPlace: [false, true] }',
        '  - { workload: allreduce, backends: [nccl], dtypes: [bf16, i32], ops: [max, prod], minBytes: 512, maxBytes: 512, inPlace: [true] }',
        '  - { workload: allreduce, backends: [nccl], dtypes: [f64], ops: [sum, min], minBytes: 512, maxBytes: 512, inPlace: [false] }',
        '',
      ].join('\n'),
    );
    expect(r.code, r.stderr).toBe(0);
    expect(r.res.cases).toHaveLength(6 + 8 + 1 + 4 + 4 + 2);
    for (const c of r.res.cases) {
      expect(c.status, `${c.id}: ${c.reason}`).toBe('ok');
      expect(c.ranks!.every((k) => k.check!.passed && k.check!.wrong === 0), c.id).toBe(true);
      // Every rank checked its whole output: S for all-gather and broadcast, S/n for reduce-scatter.
      const own = c.workload === 'reducescatter' ? Number(c.params.count) / 4 : Number(c.params.count);
      expect(c.check!.checked, c.id).toBe(4 * own);
    }
  });

  withFakes('a rank whose NCCL output is wrong fails the case on that rank (#wrong > 0) and the run exits 1', () => {
    const r = run('  - { workload: allreduce, backends: [nccl], minBytes: 64, maxBytes: 4096, stepFactor: 64 }\n', { FAKE_NCCL_WRONG: '2' }, 3);
    expect(r.code, r.stderr).toBe(1);
    expect(r.res.cases).toHaveLength(2);
    for (const c of r.res.cases) {
      expect(c).toMatchObject({ status: 'failed', reason: expect.stringMatching(/^wrong result on rank 2: 1 wrong of \d+ checked$/) });
      expect(c.ranks!.map((k) => k.check!.wrong)).toEqual([0, 0, 1]);
    }
  });

  withFakes('a rank that never arrives at ncclCommInitRank: NCCL\'s bootstrap error names it, the run fails (exit 3) within a bound, nothing hangs', () => {
    const t0 = Date.now();
    const r = run('  - { workload: allreduce, backends: [nccl], minBytes: 64, maxBytes: 64 }\n', { FAKE_NCCL_ABSENT: '2', FAKE_NCCL_TIMEOUT_MS: '2000' }, 3);
    expect(r.code, r.stderr).toBe(3);
    expect(Date.now() - t0).toBeLessThan(30_000);
    expect(r.res.run.status).toBe('failed');
    expect(r.res.run.fault).toMatch(/ncclCommInitRank failed: ncclSystemError.*rank 2 of 3, which never arrived/);
    expect(r.stderr).toMatch(/gpubench: fault: rank \d \([^)]+\): nccl ncclCommInitRank failed/);
  });

  withFakes('an NCCL bootstrap that never completes: gpubench\'s own deadline (GPUBENCH_NCCL_INIT_TIMEOUT_MS) ends it, exit 3', () => {
    const r = run('  - { workload: allreduce, backends: [nccl], minBytes: 64, maxBytes: 64 }\n', {
      FAKE_NCCL_ABSENT: '1', FAKE_NCCL_TIMEOUT_MS: '0', GPUBENCH_NCCL_INIT_TIMEOUT_MS: '1500',
    }, 3);
    expect(r.code, r.stderr).toBe(3);
    expect(r.res.run.fault).toMatch(/ncclCommInitRank \(rank \d of 3, cuda:\d\) did not complete within 1500 ms though every rank got ready for it: NCCL's own bootstrap/);
  });

  withFakes('a GPU that never comes up: the rank is named, exit 3', () => {
    const r = run('  - { workload: allreduce, backends: [nccl], minBytes: 64, maxBytes: 64 }\n', { FAKE_CUDA_HANG_DEVICE: '2', GPUBENCH_NCCL_INIT_TIMEOUT_MS: '1500' }, 3);
    expect(r.code, r.stderr).toBe(3);
    // Rank 0's wait for it or rank 2's own deadline: either names rank 2 (device 2 = local rank 2).
    expect(r.res.run.fault).toMatch(/rank 2 of 3 never got ready for ncclCommInitRank within 1500 ms \(its GPU did not come up\)|^rank 2 \([^)]+\): cuda:2 did not come up within 1500 ms/);
  });

  withFakes('two ranks on a host with one GPU: the second worker\'s own probe says there is no cuda:1, and nccl is planned unavailable naming it', () => {
    const r = run('  - { workload: allreduce, backends: [nccl], minBytes: 64, maxBytes: 64 }\n', { FAKE_CUDA_DEVICES: '1' }, 2);
    // Found while planning, from what the workers probed at hello: nothing is started on the GPU.
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/nccl unavailable: NCCL is missing on 1 of 2 workers: rank 1 \([^)]+\): cuda:1 does not exist: this host has 1 GPU .*one rank per GPU/);
    expect(r.res.cases).toEqual([]);
  });
});

describe('planning nccl in a multi-process run', () => {
  const params = (o: Partial<CollectiveParams> = {}): CollectiveParams => ({
    kind: 'allgather', bytes: 4096, count: 1024, dtype: 'f32', op: 'sum', algorithm: 'auto', inPlace: false, ranks: 4, nodes: 2, chunkBytes: 1 << 20, ...o,
  });

  it('runs every collective and dtype across processes; NCCL picks the algorithm; roots must be ranks; fp8 reductions need sm_90', () => {
    for (const kind of ['allreduce', 'allgather', 'reducescatter', 'broadcast', 'reduce', 'alltoall', 'gather', 'scatter', 'sendrecv'] as const)
      expect(ncclRankSupport(params({ kind }), [])).toBeUndefined();
    expect(ncclRankSupport(params({ algorithm: 'ring' }), [])).toMatch(/^algorithm "ring": NCCL picks its own/);
    for (const kind of ['broadcast', 'reduce', 'gather', 'scatter'] as const) expect(ncclRankSupport(params({ kind, root: 4 }), [])).toMatch(/root 4 is not one of the 4 ranks/);
    for (const kind of ['alltoall', 'sendrecv'] as const) expect(ncclRankSupport(params({ kind, inPlace: true }), [])).toMatch(/^NCCL has no in-place/);
    // NCCL's ncclAvg on integers is a sum then a division toward zero (FuncSumPostDiv): it runs.
    expect(ncclRankSupport(params({ dtype: 'i32', op: 'avg' }), [])).toBeUndefined();
    for (const dtype of ['i8', 'u8', 'u32', 'i64', 'u64', 'f64', 'fp8e4m3', 'fp8e5m2'] as const) expect(ncclRankSupport(params({ dtype }), [])).toBeUndefined();
    // NCCL reduces fp8 on sm_90 and newer only; its data moves run anywhere.
    const a100 = { memoryBytes: 80 * 2 ** 30, name: 'NVIDIA A100-SXM4-80GB', limits: { computeCapability: 8 } };
    expect(ncclRankSupport(params({ kind: 'allreduce', dtype: 'fp8e5m2' }), [a100])).toBe('NCCL reduces fp8e5m2 on compute capability ≥ 9.0 (sm_90) only; NVIDIA A100-SXM4-80GB is 8.0');
    expect(ncclRankSupport(params({ kind: 'allgather', dtype: 'fp8e5m2' }), [a100])).toBeUndefined();
    expect(ncclRankSupport(params({ kind: 'reduce', dtype: 'fp8e4m3' }), [{ ...a100, limits: { computeCapability: 9 } }])).toBeUndefined();
    expect(ncclRankSupport(params({ bytes: 2 ** 30, count: 2 ** 28 }), [{ memoryBytes: 2 * 2 ** 30 }])).toMatch(/^needs 2\.0 GiB per GPU/);
  });

  it('a coordinator plans nccl from its workers\' probes, not its own NCCL (it has none here)', async () => {
    const saved = process.env.GPUBENCH_CUDA_LIBRARY_PATH;
    process.env.GPUBENCH_CUDA_LIBRARY_PATH = tmp(); // no libcuda there
    try {
      const workers = [0, 1].map((r) => ({ ranks: [r], hostname: `n${r}`, backends: { nccl: { available: true, use: [0], devices: [{ id: 'cuda:0', name: 'G', memoryBytes: 2 ** 30 }] } } }));
      setWorld({ ranks: 2, hosts: 2, workers });
      expect(await ncclBackend.probe()).toMatchObject({ available: true, devices: [{ id: 'n0:cuda:0', memoryBytes: 2 ** 30 }, { id: 'n1:cuda:0' }] });
      workers[1]!.backends.nccl = { available: false, use: [0], devices: [], reason: 'libnccl.so.2 not found' } as never;
      expect(await ncclBackend.probe()).toEqual({ available: false, reason: 'NCCL is missing on 1 of 2 workers: rank 1 (n1): libnccl.so.2 not found' });
      setWorld(undefined);
      // Without workers (a test's world) the answer waits for them.
      await withWorld(4, async () => expect(await ncclBackend.probe()).toMatchObject({ available: true, devices: [] }));
    } finally {
      setWorld(undefined);
      if (saved === undefined) delete process.env.GPUBENCH_CUDA_LIBRARY_PATH;
      else process.env.GPUBENCH_CUDA_LIBRARY_PATH = saved;
    }
  });

  it('a worker uses GPUBENCH_CUDA_DEVICE, else its launcher local rank, else GPU 0', () => {
    expect(ncclDeviceFor(3, {})).toBe(3);
    expect(ncclDeviceFor(undefined, {})).toBe(0);
    expect(ncclDeviceFor(3, { GPUBENCH_CUDA_DEVICE: '1' })).toBe(1);
    expect(() => ncclDeviceFor(0, { GPUBENCH_CUDA_DEVICE: 'x' })).toThrow(/not a CUDA ordinal/);
  });
});
