/**
 * Every collective nccl-tests measures, in every NCCL dtype, on the `nccl` backend across
 * processes: real `gpubench run --local-nodes 4 --backends nccl` processes (a coordinator
 * and four workers on loopback, rank 0's ncclGetUniqueId handed over the WebSocket data
 * links), each worker one rank on one "GPU" of a fake driver whose memory is host memory
 * (FAKE_CUDA=host) and a fake NCCL across processes (FAKE_NCCL=multi,
 * test/helpers/fake-nccl-multi.c) that computes what NCCL would: integers wrapped at their
 * width, 64-bit ones exactly, avg as NCCL's FuncSumPostDiv (integers) and FuncPreMulSum
 * (floats), f16/bf16/fp8 rounded per step; alltoall, gather, scatter and sendrecv as
 * ncclSend/ncclRecv groups. Each rank uploads its buffers' bytes as `ws` makes them and
 * checks the bytes it gets back as `ws` checks them. The fake stands in for the GPUs
 * only: what a GPU session must check is in docs/cuda.md, "Multi-process NCCL".
 */
import { describe, expect, it } from 'vitest';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ResultsFile, type CaseResult } from '../src/harness/results/schema.js';
import { BUS_FACTOR } from '../src/collectives/collective.js';
import { referenceReduce, referenceReduceBig } from '../src/collectives/ops.js';
import { CC } from './helpers/fake-cuda.js';
import { fakeNcclSetup } from './helpers/fake-nccl-setup.js';
import { gpubench } from './helpers/cli.js';

const { addon, why, tmp, fakes } = fakeNcclSetup('gpubench-nccl-kinds-');
const withFakes = it.skipIf(!addon || !CC);

const KINDS = ['allreduce', 'allgather', 'reducescatter', 'broadcast', 'reduce', 'alltoall', 'gather', 'scatter', 'sendrecv'] as const;
/** The shortest measurement that still times every case: one sample, nccl-tests' loop of one call. */
const MEASURE = 'measure: { warmupMs: 1, minTimeMs: 1, minSamples: 1, maxSamples: 1, minSampleMs: 1 }';

/** A suite of `workloads` (YAML lines) measured as briefly as a case can be. */
function suiteFile(workloads: string[]): string {
  const f = join(tmp(), 's.yaml');
  writeFileSync(f, ['schema: gpubench.suite/v1', 'name: nccl-kinds', MEASURE, 'workloads:', ...workloads, ''].join('\n'));
  return f;
}

/** Every collective on nccl, for the CLI's --workloads, -b/-e, -d, -o, --root and placement flags to pick from and override. */
const FAST = () => ['--suite', suiteFile(KINDS.map((k) => `  - { workload: ${k}, backends: [nccl], minBytes: 256, maxBytes: 256 }`)), '-n', '1', '-w', '0'];

/** `gpubench run --local-nodes 4 …` on four fake GPUs; the rendezvous folders go to a folder of the test's own. */
function run(args: string[], env: NodeJS.ProcessEnv = {}, processes: string[] = ['--local-nodes', '4']) {
  const dir = tmp();
  const out = join(dir, 'r.json');
  const r = gpubench(['run', ...processes, '--backends', 'nccl', ...args, '--json', out, '--reporter', 'silent'], {
    GPUBENCH_CUDA_LIBRARY_PATH: fakes,
    FAKE_CUDA: 'host',
    FAKE_CUDA_DEVICES: '4',
    FAKE_NCCL: 'multi',
    FAKE_NCCL_DIR: dir,
    FAKE_NCCL_TIMEOUT_MS: '20000',
    ...env,
  }, 90_000);
  return { ...r, res: ResultsFile.parse(JSON.parse(readFileSync(out, 'utf8'))), leftovers: readdirSync(dir).filter((f) => f.startsWith('gpubench-fake-nccl-')) };
}

/** Elements rank `rank` checks: its output, or where NCCL defines none (a reduce's or gather's non-roots) its input. */
function checkedPerRank(c: CaseResult, rank: number): number {
  const count = Number(c.params.count);
  const root = Number(c.params.root ?? 0);
  if (c.workload === 'reducescatter' || c.workload === 'scatter') return count / 4;
  if (c.workload === 'gather' && rank !== root) return count / 4;
  return count;
}

/** Every case ran, on four ranks, each of which checked every element it must (`checks` calls each). */
function expectCheckedOnEveryRank(cases: CaseResult[], checks = 1): void {
  for (const c of cases) {
    expect(c.status, `${c.id}: ${c.reason}`).toBe('ok');
    expect(c.timer, c.id).toBe('cuda-event');
    expect(c.impl, c.id).toMatchObject({ kernel: 'nccl', config: { ranks: 4 } });
    expect(c.ranks!.map((k) => [k.rank, k.check!.passed, k.check!.wrong, k.check!.checked]), c.id).toEqual(
      [0, 1, 2, 3].map((k) => [k, true, 0, checks * checkedPerRank(c, k)]),
    );
    expect(c.check, c.id).toMatchObject({ passed: true, wrong: 0, checked: [0, 1, 2, 3].reduce((s, k) => s + checks * checkedPerRank(c, k), 0) });
    expect(c.metrics.busbwGBps!, c.id).toBeCloseTo(c.metrics.algbwGBps! * BUS_FACTOR[c.workload as (typeof KINDS)[number]](4), 6);
  }
}

const byKind = (cases: CaseResult[]) => Object.fromEntries(KINDS.map((k) => [k, cases.filter((c) => c.workload === k).map((c) => Number(c.params.bytes))]));

describe(`every collective and dtype on nccl across worker processes (fake GPUs)${why ? ` (skipped: ${why})` : ''}`, () => {
  withFakes('the issue\'s command, 8 B … 64 B: every case of every collective ok and checked on every rank', () => {
    const r = run(['--workloads', KINDS.join(','), '-b', '8', '-e', '64', '-f', '8', ...FAST()]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.res.run.status).toBe('complete');
    // S splits into 4 per-rank blocks of 4-byte elements where the collective has blocks.
    expect(byKind(r.res.cases)).toEqual({
      allreduce: [8, 64], allgather: [64], reducescatter: [64], broadcast: [8, 64], reduce: [8, 64], alltoall: [64], gather: [64], scatter: [64], sendrecv: [8, 64],
    });
    expectCheckedOnEveryRank(r.res.cases);
    expect(r.leftovers).toEqual([]);
  });

  withFakes('two processes of two GPUs each (--gpus-per-process 2, each process\'s calls in one NCCL group): every collective ok on every rank', () => {
    const r = run(['--workloads', KINDS.join(','), '-b', '256', '-e', '256', '--root', '1', '-d', 'uint64', ...FAST()], {}, ['--local-nodes', '2', '--gpus-per-process', '2']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.res.cases.map((c) => c.workload)).toEqual([...KINDS]);
    expectCheckedOnEveryRank(r.res.cases);
  });

  withFakes('roots (--root 2), in and out of place, int32 avg (NCCL divides toward zero), -c 2: each checked call counted; alltoall and sendrecv in place skipped, saying why', () => {
    const r = run(['--workloads', KINDS.join(','), '-b', '256', '-e', '256', '--root', '2', '--in-place', '--out-of-place', '-c', '2', '-d', 'int32', '-o', 'avg', ...FAST()]);
    expect(r.code, r.stderr).toBe(0);
    const ran = r.res.cases.filter((c) => c.status !== 'skipped');
    const skipped = r.res.cases.filter((c) => c.status === 'skipped');
    expect(ran).toHaveLength(9 * 2 - 2);
    expect(skipped.map((c) => [c.workload, c.params.inPlace, c.reason])).toEqual(
      ['alltoall', 'sendrecv'].map((k) => [k, true, expect.stringMatching(/^NCCL has no in-place/)]),
    );
    for (const c of ran) if (['broadcast', 'reduce', 'gather', 'scatter'].includes(c.workload)) expect(c.params.root, c.id).toBe(2);
    expectCheckedOnEveryRank(ran, 2);
  });

  withFakes('every NCCL dtype: int8, uint8, uint32, int64, uint64, half, double, fp8 e4m3/e5m2 with sum, prod, min, max, avg; and on the other collectives', () => {
    const dtypes = '[i8, u8, u32, i64, u64, f16, f64, fp8e4m3, fp8e5m2]';
    const suite = suiteFile([
      `  - { workload: allreduce, backends: [nccl], dtypes: ${dtypes}, ops: [sum, prod, min, max, avg], minBytes: 256, maxBytes: 256 }`,
      '  - { workload: reduce, backends: [nccl], dtypes: [i8, u64, fp8e5m2], ops: [avg], root: 3, minBytes: 256, maxBytes: 256 }',
      '  - { workload: reducescatter, backends: [nccl], dtypes: [u8, i64, fp8e4m3], ops: [avg], minBytes: 256, maxBytes: 256 }',
      // The data moves carry bytes whatever the type: one 1-, 8- and fp8-byte type across them.
      ...Object.entries({ allgather: 'i8', broadcast: 'u64', alltoall: 'fp8e4m3', gather: 'u8', scatter: 'i64', sendrecv: 'fp8e5m2' }).map(
        ([k, d]) => `  - { workload: ${k}, backends: [nccl], dtypes: [${d}], minBytes: 256, maxBytes: 256 }`,
      ),
    ]);
    const r = run(['--suite', suite, '-n', '1', '-w', '0']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.res.cases).toHaveLength(9 * 5 + 3 + 3 + 6);
    expect(new Set(r.res.cases.map((c) => c.params.dtype))).toEqual(new Set(['i8', 'u8', 'u32', 'i64', 'u64', 'f16', 'f64', 'fp8e4m3', 'fp8e5m2']));
    expectCheckedOnEveryRank(r.res.cases);
  });

  withFakes('a rank returning wrong data in a gather, a reduce (non-root: what it sends) and an alltoall: #wrong > 0 where it lands, exit 1; fp8 on an NCCL older than 2.24 refused naming it', () => {
    const r = run(['--workloads', 'gather,reduce,alltoall', '-b', '256', '-e', '256', '-d', 'int64,fp8_e4m3', '-o', 'sum', ...FAST()], { FAKE_NCCL_WRONG: '1', FAKE_NCCL_VERSION: '22304' });
    expect(r.code, r.stderr).toBe(1);
    expect(r.res.cases.map((c) => `${c.workload} ${c.params.dtype} ${c.status}`).sort()).toEqual(
      ['alltoall', 'gather', 'reduce'].flatMap((k) => [`${k} fp8e4m3 skipped`, `${k} i64 failed`]),
    );
    for (const c of r.res.cases) {
      if (c.status === 'skipped') {
        expect(c.reason).toBe('fp8e4m3 needs NCCL ≥ 2.24 (this is 2.23.4)');
        continue;
      }
      expect(c.impl?.config?.ncclVersion).toBe('2.23.4');
      // Gather and reduce: rank 1 has no output, its wrong block lands on the root (0); alltoall: on rank 1.
      const at = c.workload === 'alltoall' ? 1 : 0;
      expect(c.ranks!.map((k) => k.check!.wrong), c.id).toEqual([0, 1, 2, 3].map((k) => (k === at ? 1 : 0)));
      expect(c.reason, c.id).toMatch(new RegExp(`^wrong result on rank ${at}: 1 wrong of \\d+ checked$`));
    }
  });
});

describe("the reference's integer avg is NCCL's", () => {
  // NCCL (src/enqueue.cc hostToDevRedOp): ncclAvg on ncclInt8/32/64 and the unsigned ones is
  // ncclDevSumPostDiv with (nRanks << 1 | signed); src/device/reduce_kernel.h FuncSumPostDiv
  // sums wrapping at the width, then divides |x| by n and negates a negative sum back:
  // a quotient truncated toward zero, not floored.
  it('sums wrapping at the width, then divides toward zero', () => {
    expect(referenceReduce('i32', 'avg', [-3, -2, 0, 0])).toBe(-1); // floor would be −2
    expect(referenceReduce('i8', 'avg', [-3, -2, 0, 0])).toBe(-1);
    expect(referenceReduce('i8', 'avg', [100, 100, 0, 0])).toBe(-14); // 200 wraps to −56 in int8
    expect(referenceReduce('u8', 'avg', [200, 100, 0, 0])).toBe(11); // 300 wraps to 44
    expect(referenceReduce('u32', 'avg', [7, 0, 0, 0])).toBe(1);
    expect(referenceReduceBig('i64', 'avg', [-5n, 0n, 0n, 0n])).toBe(-1n);
    expect(referenceReduceBig('i64', 'avg', [2n ** 62n, 2n ** 62n, 0n, 0n])).toBe(-(2n ** 61n)); // 2^63 wraps to −2^63
    expect(referenceReduceBig('u64', 'avg', [2n ** 63n, 2n ** 63n, 3n, 0n])).toBe(0n); // 2^64 + 3 wraps to 3
  });
});
