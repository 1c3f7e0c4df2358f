/**
 * nccl-tests compatibility: its flags (-n -w -c -d -o -a -T), its timing convention
 * recorded beside gpubench's median, its console columns (`--format nccl-tests`) and
 * `--min-busbw`. Real worker processes on loopback.
 */
import { describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gpubench, startCli } from './helpers/cli.js';
import { ResultsFile, type CaseResult } from '../src/harness/results/schema.js';
import { averageBusBw, combineRankTimes } from '../src/collectives/nccl-tests.js';
import { sweepSizes } from '../src/collectives/workload.js';

const tmp = () => mkdtempSync(join(tmpdir(), 'gpubench-nct-'));
const readResults = (path: string) => ResultsFile.parse(JSON.parse(readFileSync(path, 'utf8')));
const FAST = ['--min-time', '20', '--warmup', '5'];
const CLEAN = { GPUBENCH_TOKEN: '', GPUBENCH_COORDINATOR: '', GPUBENCH_RANK: '', RANK: '', WORLD_SIZE: '', SLURM_PROCID: '', OMPI_COMM_WORLD_RANK: '', JOB_COMPLETION_INDEX: '' };

describe('nccl-tests conventions', () => {
  it('combines ranks as -a says: 0 rank 0, 1 average, 2 min, 3 max', () => {
    expect(combineRankTimes([30, 10, 20], 'rank0')).toBe(30);
    expect(combineRankTimes([30, 10, 20], 'avg')).toBe(20);
    expect(combineRankTimes([30, 10, 20], 'min')).toBe(10);
    expect(combineRankTimes([30, 10, 20], 'max')).toBe(30);
  });

  it('averages busbw over the sizes of at least 1 MiB, or the largest where none reaches it', () => {
    const c = (bytes: number, busbw: number, status: CaseResult['status'] = 'ok'): CaseResult => ({
      id: `x/${bytes}`, workload: 'allreduce', backend: 'ws', device: '', params: { bytes, inPlace: false }, samplesMs: [1], metrics: { busbwGBps: busbw, algbwGBps: busbw }, status,
    });
    expect(averageBusBw([c(1024, 0.1), c(1 << 20, 2), c(4 << 20, 4), c(8 << 20, 100, 'failed')])).toEqual({ gbps: 3, cases: 2, fromBytes: 1 << 20 });
    expect(averageBusBw([c(1024, 0.1), c(4096, 0.5)])).toEqual({ gbps: 0.5, cases: 1, fromBytes: 4096 });
    expect(averageBusBw([])).toBeUndefined();
  });
});

describe('gpubench run with nccl-tests flags', () => {
  it('records nccl-tests\' time per case beside the median, prints its columns, and checks -c times', () => {
    const json = join(tmp(), 'r.json');
    const r = gpubench(['run', '--workloads', 'allreduce,broadcast', '--local-nodes', '3', '-b', '8', '-e', '64K', '-f', '64', '-d', 'float,half', '-o', 'sum',
      '--in-place', '--out-of-place', '-n', '7', '-w', '2', '-c', '3', '-a', '3', '--format', 'nccl-tests', '--json', json, ...FAST], CLEAN, 120_000);
    expect(r.code, r.stderr).toBe(0);
    const res = readResults(json);
    expect(res.cases.length).toBe(2 * 2 * 2 * 4); // workloads × dtypes × placements × sizes (8, 512, 32K, 64K)
    for (const c of res.cases) {
      expect(c.status, c.reason).toBe('ok');
      const n = c.ncclTests!;
      expect(n).toMatchObject({ iters: 7, warmupIters: 2, average: 'max', size: c.params.bytes, count: c.params.count, inPlace: c.params.inPlace, nwrong: 0 });
      expect(n.rankTimesUs).toHaveLength(3);
      expect(n.timeUs).toBe(Math.max(...n.rankTimesUs));
      expect(n.algBw).toBeCloseTo(Number(c.params.bytes) / 1e3 / n.timeUs, 12);
      expect(n.busBw).toBeCloseTo(n.algBw * (c.workload === 'allreduce' ? 4 / 3 : 1), 12);
      expect(n.type).toBe(c.params.dtype === 'f16' ? 'half' : 'float');
      expect(n.root).toBe(c.workload === 'broadcast' ? 0 : -1);
      // -c 3: three checked calls on every rank, each counted.
      expect(c.check!.checked).toBe(3 * 3 * Number(c.params.count));
    }
    // nccl-tests' header and one row per size, type and op, out of place then in place.
    expect(r.stdout).toContain('#       size         count      type   redop    root     time   algbw   busbw #wrong     time   algbw   busbw #wrong');
    const rows = r.stdout.split('\n').filter((l) => /^\s+\d+\s+\d+\s+(float|half)\s/.test(l));
    expect(rows).toHaveLength(2 * 2 * 4);
    for (const row of rows) {
      const f = row.trim().split(/\s+/);
      expect(f).toHaveLength(13);
      expect(f[3]).toMatch(/^(sum|none)$/);
      expect(Number(f[8])).toBe(0); // #wrong out of place
      expect(Number(f[12])).toBe(0); // #wrong in place
    }
    expect(r.stdout).toMatch(/# Out of bounds values : 0 OK/);
    expect(r.stdout).toMatch(/# Avg bus bandwidth {4}: [\d.e+-]+/);
  });

  it('--min-busbw fails the run (exit 1) when the large sizes average below it, and passes above', () => {
    const dir = tmp();
    const args = ['run', '--workloads', 'allreduce', '--local-nodes', '2', '-b', '1M', '-e', '1M', ...FAST, '--reporter', 'silent'];
    const low = gpubench([...args, '--json', join(dir, 'a.json'), '--min-busbw', '1000000'], CLEAN, 60_000);
    expect(low.code, low.stderr).toBe(1);
    expect(low.stderr).toMatch(/average busbw [\d.]+ GB\/s over 1 case\(s\) of S >= 1048576 B; --min-busbw 1000000: FAILED/);
    const high = gpubench([...args, '--json', join(dir, 'b.json'), '--min-busbw', '0.000001'], CLEAN, 60_000);
    expect(high.code, high.stderr).toBe(0);
  });

  it.each([
    [['-c', '0'], /--check/],
    [['-a', '4'], /--average/],
    [['-d', 'float128'], /--datatype: "float128" is not a type/],
    [['-T', '0'], /--timeout/],
    [['--format', 'xml'], /--format/],
    [['-i', '4', '-f', '2'], /--step-bytes: give -f \(multiply\) or -i \(add\), not both/],
    [['-e', '1M', '-i', '8'], /--step-bytes: 8-byte steps from 8 to 1048576 make more than 10000 sizes/],
  ])('%j is a usage error naming the option', (flags, re) => {
    const r = gpubench(['run', '--workloads', 'allreduce', '--local-nodes', '2', '-b', '8', '-e', '8', ...flags], CLEAN);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toMatch(re);
  });
});

describe('-T: a collective that hangs', () => {
  it('fails the run after the timeout, naming the rank that did not finish, and nothing hangs', async () => {
    const json = join(tmp(), 'r.json');
    const coord = startCli(['coordinator', '--world-size', '2', '--port', '0', '-T', '3', '--workloads', 'allreduce', '-b', '8', '-e', '64MiB', '-f', '4', '--min-time', '400', '--json', json, '--reporter', 'silent'], 60_000, CLEAN);
    const url = (await coord.waitFor(/listening on (ws:\/\/127\.0\.0\.1:\d+)/))[1]!;
    const workers = [0, 1].map(() => startCli(['worker', '--coordinator', url], 60_000, CLEAN));
    await coord.waitFor(/ready/);
    for (const w of workers) await w.waitFor(/rank \d\//);
    await new Promise((r) => setTimeout(r, 300));
    // Rank 1 stops mid-run (a process stuck inside a collective): its heartbeats stop too,
    // but -T (3 s) is far shorter than the heartbeat timeout (60 s).
    const stuck = workers.find((w) => /rank 1\//.test(w.stderr()))!;
    stuck.child.kill('SIGSTOP');
    try {
      expect(await coord.exited).toBe(3);
      // Both ranks are inside the collective; the stopped one is named as the one gone silent.
      expect(coord.stderr()).toMatch(/did not finish within 3000 ms \(-T\/--timeout\) on ranks 0 \(\S+ pid \d+\), 1 \(\S+ pid \d+\); rank 1 \(\S+ pid \d+\) has sent nothing for \d+ ms \(hung or stopped\), the others are alive and waiting/);
      const other = workers.find((w) => w !== stuck)!;
      expect(await other.exited).toBe(3);
    } finally {
      stuck.child.kill('SIGKILL');
    }
    const res = readResults(json);
    expect(res.run).toMatchObject({ status: 'failed', fault: expect.stringMatching(/rank 1 \(\S+ pid \d+\) has sent nothing/) });
  });
});

describe('nccl-tests -i: linear size steps', () => {
  it('adds the step from -b up to -e, and ends on -e when the steps miss it', () => {
    expect(sweepSizes(1024, 4096, 2, 1024)).toEqual([1024, 2048, 3072, 4096]);
    expect(sweepSizes(1000, 3500, 2, 1000)).toEqual([1000, 2000, 3000, 3500]);
    // Without -i, -f's factor as before.
    expect(sweepSizes(8, 64, 2)).toEqual([8, 16, 32, 64]);
  });

  it('runs a -b 1K -e 4K -i 1K sweep: four sizes per collective', () => {
    const dir = mkdtempSync(join(tmpdir(), 'gpubench-step-'));
    try {
      const json = join(dir, 'r.json');
      const r = gpubench(['run', '--workloads', 'allreduce', '--local-nodes', '2', '-b', '1K', '-e', '4K', '-i', '1K', '--min-time', '20', '--warmup', '5', '--reporter', 'silent', '--json', json], CLEAN);
      expect(r.code, r.stderr).toBe(0);
      const res = JSON.parse(readFileSync(json, 'utf8')) as { cases: { status: string; params: { bytes: number } }[] };
      expect(res.cases.map((c) => c.params.bytes)).toEqual([1024, 2048, 3072, 4096]);
      expect(res.cases.every((c) => c.status === 'ok')).toBe(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
