/**
 * `gpubench fleet` under a real Slurm through the shipped recipe: munged, slurmctld and
 * slurmd started here (test/helpers/slurm.ts), examples/slurm/gpubench.sbatch submitted with
 * GPUBENCH_COMMAND=fleet for 1 node × 4 tasks: the fleet coordinator on the first node, a
 * plain `gpubench worker` per task taking its rank from SLURM_PROCID. A healthy run: exit 0,
 * no suspect, every pair measured, launcher slurm, an empty exclude file. Skipped (with the
 * fix) without root or slurm-wlm/munge; failed instead under GPUBENCH_REQUIRE_CLUSTER=1.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CLI } from './helpers/cli.js';
import { slurmMissing, startSlurm, type SlurmCluster } from './helpers/slurm.js';
import { freePort } from './helpers/free-port.js';
import { submitRecipe } from './helpers/sbatch-recipe.js';

const missing = slurmMissing();
const TASKS = 4;

describe('gpubench fleet through examples/slurm/gpubench.sbatch on a real Slurm cluster', () => {
  let cluster: SlurmCluster | undefined;
  const work = mkdtempSync(join(tmpdir(), 'gpubench-fleet-slurm-'));
  beforeAll(async () => {
    if (!missing) cluster = await startSlurm({ cpus: 8 });
  }, 60_000);
  afterAll(async () => {
    await cluster?.stop();
    rmSync(work, { recursive: true, force: true });
  }, 60_000);

  it.skipIf(missing)('GPUBENCH_COMMAND=fleet, 1 node × 4 tasks: exit 0, no suspect, every pair, ranks from Slurm', async () => {
    const c = cluster!;
    const results = join(work, 'fleet.json');
    const exclude = join(work, 'exclude.txt');
    const { code, log, context } = await submitRecipe(c, work, { nodes: 1, tasksPerNode: TASKS, env: {
      GPUBENCH: `${process.execPath} ${CLI}`,
      GPUBENCH_COMMAND: 'fleet',
      GPUBENCH_RESULTS: results,
      GPUBENCH_COORDINATOR_PORT: String(await freePort()),
      GPUBENCH_ARGS: `--exclude-file ${exclude} --matmul-size 128 --sample-ms 200 --warmup 100 --samples 5 --pair-bytes 256K --pair-samples 6 --ping-samples 20 --allreduce-bytes 64K`,
    } });
    expect(code, context).toBe(0);
    const res = JSON.parse(readFileSync(results, 'utf8'));
    expect(res.run.status, log).toBe('complete');
    const f = res.fleet;
    expect(f.suspects, log).toEqual([]);
    expect(f.pairs.links).toHaveLength((TASKS * (TASKS - 1)) / 2);
    expect(f.pairs.rounds).toBe(TASKS - 1);
    expect(f.allreduce.busbwGBps).toBeGreaterThan(0);
    expect((res.environment.nodes as { rank: number; launcher: string }[]).map((n) => [n.rank, n.launcher])).toEqual([0, 1, 2, 3].map((r) => [r, 'slurm']));
    expect(readFileSync(exclude, 'utf8')).toBe('');
    expect(log).toMatch(/verdict: no suspect/);
    expect(log).toMatch(/coordinator exit 0, workers exit 0/);
  });
});
