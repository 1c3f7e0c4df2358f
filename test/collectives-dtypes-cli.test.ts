/**
 * NCCL's element types through the CLI: nccl-tests' `-d` names (int8 … fp8_e5m2, `all`)
 * run over WebSockets between real worker processes on loopback, every case checked
 * against the reference (exactly for the integers), with nccl-tests' type names in the
 * JSON and the console columns.
 */
import { describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gpubench } from './helpers/cli.js';
import { ResultsFile } from '../src/harness/results/schema.js';
import { COLLECTIVE_DTYPES } from '../src/collectives/dtypes.js';
import { NCCL_TYPE_NAMES } from '../src/collectives/nccl-tests.js';

const tmp = () => mkdtempSync(join(tmpdir(), 'gpubench-dt-'));
const readResults = (path: string) => ResultsFile.parse(JSON.parse(readFileSync(path, 'utf8')));
const FAST = ['--min-time', '20', '--warmup', '5', '-n', '2', '-w', '1'];
const CLEAN = { GPUBENCH_TOKEN: '', GPUBENCH_COORDINATOR: '', GPUBENCH_RANK: '', RANK: '', WORLD_SIZE: '', SLURM_PROCID: '', OMPI_COMM_WORLD_RANK: '', JOB_COMPLETION_INDEX: '' };

describe('gpubench run -d with NCCL\'s element types over WebSockets', () => {
  it('-d int8,uint64,double,fp8_e4m3 on 3 local nodes: every case ok and checked, nccl-tests\' type names', () => {
    const json = join(tmp(), 'r.json');
    const r = gpubench(['run', '--workloads', 'allreduce', '--local-nodes', '3', '-d', 'int8,uint64,double,fp8_e4m3', '-b', '8', '-e', '64K', '-f', '64',
      '--format', 'nccl-tests', '--json', json, ...FAST], CLEAN, 120_000);
    expect(r.code, r.stderr).toBe(0);
    const res = readResults(json);
    expect(res.run.status).toBe('complete');
    expect(new Set(res.cases.map((c) => c.params.dtype))).toEqual(new Set(['i8', 'u64', 'f64', 'fp8e4m3']));
    expect(res.cases.length).toBe(4 * 4); // dtypes × sizes (8, 512, 32K, 64K)
    for (const c of res.cases) {
      expect(c.status, `${c.id}: ${c.reason}`).toBe('ok');
      expect(c.check, c.id).toMatchObject({ passed: true, wrong: 0 });
      expect(c.check!.checked, c.id).toBeGreaterThan(0);
      expect(c.ncclTests!.type).toBe(NCCL_TYPE_NAMES[c.params.dtype as keyof typeof NCCL_TYPE_NAMES]);
      expect(c.ncclTests!.nwrong).toBe(0);
      if (c.params.dtype === 'i8' || c.params.dtype === 'u64') expect(c.check!.tolerance, c.id).toBe(0);
    }
    for (const name of ['int8', 'uint64', 'double', 'fp8_e4m3']) expect(r.stdout).toMatch(new RegExp(`^\\s+\\d+\\s+\\d+\\s+${name}\\s+sum\\s`, 'm'));
    expect(r.stdout).toMatch(/# Out of bounds values : 0 OK/);
  });

  it('-d all runs every dtype, and every op of the reducing collectives, checked', () => {
    const json = join(tmp(), 'r.json');
    const r = gpubench(['run', '--workloads', 'allreduce,reducescatter,allgather', '--local-nodes', '2', '-d', 'all', '-o', 'sum,prod,min,max,avg', '-b', '64', '-e', '64',
      '--reporter', 'silent', '--json', json, ...FAST], CLEAN, 120_000);
    expect(r.code, r.stderr).toBe(0);
    const res = readResults(json);
    expect(new Set(res.cases.map((c) => c.params.dtype))).toEqual(new Set(COLLECTIVE_DTYPES));
    const ops = new Set(res.cases.filter((c) => c.workload === 'allreduce').map((c) => c.params.op));
    expect(ops).toEqual(new Set(['sum', 'prod', 'min', 'max', 'avg']));
    for (const c of res.cases) {
      expect(c.status, `${c.id}: ${c.reason}`).toBe('ok');
      expect(c.check, c.id).toMatchObject({ passed: true, wrong: 0 });
    }
  });
});
