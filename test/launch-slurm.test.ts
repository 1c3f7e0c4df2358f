/**
 * The shipped Slurm recipe under a real Slurm: munged, slurmctld and slurmd started here
 * (test/helpers/slurm.ts), examples/slurm/gpubench.sbatch submitted unchanged with
 * `sbatch --wait` for 1 node x 4 tasks. Ranks must be Slurm's SLURM_PROCID even though the
 * workers reach the coordinator in reverse rank order, and the token travels only in the
 * environment. Skipped (with the fix) without root or slurm-wlm/munge; failed instead under
 * GPUBENCH_REQUIRE_CLUSTER=1.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { slurmMissing, startSlurm, type SlurmCluster } from './helpers/slurm.js';
import { writeRankWrapper } from './helpers/rank-wrapper.js';
import { freePort } from './helpers/free-port.js';
import { ResultsFile } from '../src/harness/results/schema.js';
import { submitRecipe } from './helpers/sbatch-recipe.js';

const missing = slurmMissing();
const TASKS = 4;

describe('examples/slurm/gpubench.sbatch on a real Slurm cluster', () => {
  let cluster: SlurmCluster | undefined;
  const work = mkdtempSync(join(tmpdir(), 'gpubench-slurm-job-'));
  beforeAll(async () => {
    if (!missing) cluster = await startSlurm({ cpus: 8 });
  }, 60_000);
  afterAll(async () => {
    await cluster?.stop();
    rmSync(work, { recursive: true, force: true });
  }, 60_000);

  it.skipIf(missing)('the cluster runs 4 tasks on its one node (srun hostname)', async () => {
    const r = await cluster!.run('srun', ['--ntasks=4', '--overlap', 'sh', '-c', 'echo "$SLURM_PROCID $(hostname)"'], 30_000);
    expect(r.code, `${r.stderr}\n${cluster!.logs()}`).toBe(0);
    expect(r.stdout.trim().split('\n').map((l) => Number(l.split(' ')[0])).sort()).toEqual([0, 1, 2, 3]);
  });

  it.skipIf(missing)('sbatch --wait, 1 node x 4 tasks: exit 0, every case ok, launcher slurm, rank = SLURM_PROCID whatever the arrival order', async () => {
    const c = cluster!;
    const results = join(work, 'results.json');
    const wrapper = writeRankWrapper(work, 'SLURM_PROCID', TASKS);
    const { code, log, context } = await submitRecipe(c, work, { nodes: 1, tasksPerNode: TASKS, env: {
      GPUBENCH: wrapper.command,
      GPUBENCH_RESULTS: results,
      GPUBENCH_COORDINATOR_PORT: String(await freePort()),
      GPUBENCH_ARGS: '--workloads allreduce -b 8 -e 64K -f 8 --min-time 20 --warmup 5 --reporter silent',
    } });
    expect(code, context).toBe(0);
    const res = ResultsFile.parse(JSON.parse(readFileSync(results, 'utf8')));
    expect(res.run.status, log).toBe('complete');
    expect(res.cases.length).toBeGreaterThan(0);
    for (const k of res.cases) {
      expect(k.status, `${k.id}: ${k.reason}`).toBe('ok');
      expect(k.id).toMatch(new RegExp(`/r${TASKS}h1$`)); // the topology in the id
      expect(k.params).toMatchObject({ ranks: TASKS, nodes: 1 });
    }
    const nodes = res.environment.nodes as { rank: number; pid: number; launcher: string; localRank?: number; hostname: string }[];
    expect(nodes.map((n) => [n.rank, n.launcher, n.localRank])).toEqual([0, 1, 2, 3].map((r) => [r, 'slurm', r]));
    // Each rank is the process Slurm gave that SLURM_PROCID (the wrapper exec'd into the worker).
    const pids = wrapper.pids();
    expect(pids.size).toBe(TASKS);
    for (const n of nodes) expect(n.pid, `rank ${n.rank}`).toBe(pids.get(n.rank));
    // The workers joined in another order than their ranks (reverse, by the wrapper's sleeps).
    const arrival = [...log.matchAll(/pid (\d+) joined/g)].map((m) => nodes.find((n) => n.pid === Number(m[1]))?.rank);
    expect(arrival).toHaveLength(TASKS);
    expect(arrival).not.toEqual([0, 1, 2, 3]);
    // The token the script made travelled in the environment only.
    expect(res.run.argv.join(' ')).not.toMatch(/--token|[0-9a-f]{32}/);
    expect(log).toMatch(/coordinator exit 0, workers exit 0/);
  });
});
