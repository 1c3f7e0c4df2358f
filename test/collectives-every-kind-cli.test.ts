/**
 * Every collective nccl-tests measures, from the command line on real worker processes
 * over loopback: `gpubench run --workloads allreduce,…,sendrecv --local-nodes N`. Every
 * case ok and checked on every rank (where NCCL defines no output on a rank, what is
 * checked there instead), busbw = algbw × nccl-tests' factor, roots from -r, in-place
 * cases NCCL has no form of skipped with the reason, nccl-tests' columns.
 */
import { describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gpubench } from './helpers/cli.js';
import { ResultsFile } from '../src/harness/results/schema.js';

const tmp = () => mkdtempSync(join(tmpdir(), 'gpubench-kinds-'));
const readResults = (path: string) => ResultsFile.parse(JSON.parse(readFileSync(path, 'utf8')));
// Short measurements; -n/-w: a short nccl-tests loop after them (its default 5 + 20 calls at 16 MiB are most of a minute on 2 cores).
const FAST = ['--min-time', '20', '--warmup', '5'];
const CLEAN = { GPUBENCH_TOKEN: '', GPUBENCH_COORDINATOR: '', GPUBENCH_RANK: '', RANK: '', WORLD_SIZE: '', SLURM_PROCID: '', OMPI_COMM_WORLD_RANK: '', JOB_COMPLETION_INDEX: '' };
const ALL = ['allreduce', 'allgather', 'reducescatter', 'broadcast', 'reduce', 'alltoall', 'gather', 'scatter', 'sendrecv'];

/** nccl-tests' bus factors (doc/PERFORMANCE.md and each test's GetBw), written out independently of the registry. */
const factor = (kind: string, n: number): number =>
  kind === 'allreduce' ? (2 * (n - 1)) / n : ['broadcast', 'reduce', 'sendrecv'].includes(kind) ? 1 : (n - 1) / n;
/** Per-rank blocks: S rounds to a multiple of n elements. */
const BLOCKED = new Set(['allgather', 'reducescatter', 'alltoall', 'gather', 'scatter']);

describe('gpubench run with every collective', () => {
  it('runs all nine on 4 worker processes, 8 B to 16 MiB: every case ok, checked on every rank, busbw = algbw × factor', () => {
    const json = join(tmp(), 'r.json');
    const r = gpubench(['run', '--workloads', ALL.join(','), '--local-nodes', '4', '-b', '8', '-e', '16MiB', '-f', '64', '--reporter', 'silent', '--json', json, ...FAST, '-n', '2', '-w', '1'], CLEAN, 150_000);
    expect(r.code, r.stderr).toBe(0);
    const res = readResults(json);
    expect(res.run.status).toBe('complete');
    expect([...new Set(res.cases.map((c) => c.workload))]).toEqual(ALL);
    for (const c of res.cases) {
      const what = `${c.id}: ${c.reason ?? ''}`;
      expect(c.status, what).toBe('ok');
      expect(c.id, what).toMatch(/\/r4h1$/);
      const count = Number(c.params.count);
      if (BLOCKED.has(c.workload)) expect(count % 4, what).toBe(0);
      expect(c.check, what).toMatchObject({ passed: true, wrong: 0 });
      expect(c.ranks, what).toHaveLength(4);
      for (const rk of c.ranks!) expect(rk.check!, `${what} rank ${rk.rank}`).toMatchObject({ passed: true, wrong: 0 });
      // What each rank checks: a reduce's or gather's non-roots have no output in NCCL,
      // so their unchanged send buffers are checked (count, count/4 elements).
      const perRank =
        c.workload === 'reducescatter' || c.workload === 'scatter' ? [1, 1, 1, 1].map(() => count / 4)
        : c.workload === 'gather' ? [count, count / 4, count / 4, count / 4]
        : [count, count, count, count];
      expect(c.ranks!.map((rk) => rk.check?.checked), what).toEqual(perRank);
      const algbw = Number(c.params.bytes) / 1e9 / (c.stats!.medianMs / 1e3);
      expect(c.metrics.algbwGBps, what).toBeCloseTo(algbw, 12);
      expect(c.metrics.busbwGBps, what).toBeCloseTo(algbw * factor(c.workload, 4), 12);
      expect(c.ncclTests?.busBw, what).toBeCloseTo(c.ncclTests!.algBw * factor(c.workload, 4), 12);
      expect(c.ncclTests?.root, what).toBe(['broadcast', 'reduce', 'gather', 'scatter'].includes(c.workload) ? 0 : -1);
    }
    // The sweep reaches 16 MiB for every collective (8 B is below one block for the blocked ones).
    for (const kind of ALL) expect(res.cases.filter((c) => c.workload === kind).map((c) => c.params.bytes).at(-1), kind).toBe(16 * 1024 * 1024);
  });

  it('takes -r for every rooted collective, runs both placements where NCCL has them and skips in-place all-to-all and send/receive, saying why', () => {
    const json = join(tmp(), 'r.json');
    const r = gpubench(['run', '--workloads', 'reduce,alltoall,gather,scatter,sendrecv', '--local-nodes', '3', '-b', '6', '-e', '100K', '-f', '1000',
      '--dtypes', 'f16,i32', '--op', 'prod,min', '--in-place', '--out-of-place', '-r', '2', '--format', 'nccl-tests', '--json', json, ...FAST], CLEAN, 120_000);
    expect(r.code, r.stderr).toBe(0);
    const res = readResults(json);
    for (const c of res.cases) {
      const rooted = ['reduce', 'gather', 'scatter'].includes(c.workload);
      expect(c.id).toMatch(new RegExp(`${c.params.inPlace ? '/inplace' : ''}${rooted ? '/root2' : ''}/r3h1$`));
      if (c.params.inPlace && (c.workload === 'alltoall' || c.workload === 'sendrecv')) {
        expect(c).toMatchObject({ status: 'skipped', reason: expect.stringMatching(/NCCL has no in-place/) });
        continue;
      }
      expect(c.status, `${c.id}: ${c.reason}`).toBe('ok');
      if (rooted) expect(c.params.root).toBe(2);
      // Only reduce takes an op: the others run once per dtype, named without one.
      expect(c.id.includes('/prod/') || c.id.includes('/min/')).toBe(c.workload === 'reduce');
      expect(c.metrics.busbwGBps).toBeCloseTo(c.metrics.algbwGBps! * factor(c.workload, 3), 12);
    }
    expect(res.cases.filter((c) => c.workload === 'reduce' && c.status === 'ok').map((c) => c.params.op)).toEqual(expect.arrayContaining(['prod', 'min']));
    // nccl-tests' columns: one block per collective, the root printed where there is one.
    for (const kind of ['reduce', 'alltoall', 'gather', 'scatter', 'sendrecv']) expect(r.stdout).toContain(`# ${kind} on ws: 3 ranks on 1 host`);
    expect(r.stdout).toMatch(/# Out of bounds values : 0 OK/);
  });
});
