/**
 * The shipped Slurm recipe across 3 Slurm nodes that are network namespaces of this machine
 * (test/helpers/slurm-netns.ts): each rank on its own host name and address, the coordinator
 * found through the first node's name, data links over the namespaces' bridge. Separate from
 * launch-slurm.test.ts so it can be dropped on its own. Skipped (with the fix) without root,
 * slurm-wlm/munge or iproute2; failed instead under GPUBENCH_REQUIRE_CLUSTER=1.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CLI } from './helpers/cli.js';
import { netnsSlurmMissing, startNetnsSlurm, type NetnsSlurmCluster } from './helpers/slurm-netns.js';
import { ResultsFile } from '../src/harness/results/schema.js';
import { submitRecipe } from './helpers/sbatch-recipe.js';

const missing = netnsSlurmMissing();
const NODES = 3;

/**
 * `ownNameOnLoopback`: each node's /etc/hosts also names the node itself on 127.0.1.1, first, as
 * Debian's installer writes it; the rank beside the coordinator then reaches it over loopback,
 * and must still announce a data address the other nodes can reach.
 */
describe.each([
  { hosts: 'node names on their addresses', ownNameOnLoopback: false },
  { hosts: "each node's own name on 127.0.1.1 (Debian's /etc/hosts)", ownNameOnLoopback: true },
])('examples/slurm/gpubench.sbatch on 3 Slurm nodes in network namespaces, $hosts', ({ ownNameOnLoopback }) => {
  let cluster: NetnsSlurmCluster | undefined;
  const work = mkdtempSync(join(tmpdir(), 'gpubench-slurm-netns-'));
  beforeAll(async () => {
    if (!missing) cluster = await startNetnsSlurm(NODES, 4, { ownNameOnLoopback });
  }, 60_000);
  afterAll(async () => {
    await cluster?.stop();
    rmSync(work, { recursive: true, force: true });
  }, 60_000);

  it.skipIf(missing)('sbatch --wait --nodes=3: exit 0, every case ok, one rank per node, each on its own host and address', async () => {
    const c = cluster!;
    const results = join(work, 'results.json');
    const { code, log, context } = await submitRecipe(c, work, { nodes: NODES, tasksPerNode: 1, env: {
      GPUBENCH: `${process.execPath} ${CLI}`,
      GPUBENCH_RESULTS: results,
      GPUBENCH_ARGS: '--workloads allreduce -b 8 -e 64K -f 8 --min-time 20 --warmup 5 --reporter silent',
    } });
    expect(code, context).toBe(0);
    const res = ResultsFile.parse(JSON.parse(readFileSync(results, 'utf8')));
    expect(res.run.status, log).toBe('complete');
    expect(res.cases.length).toBeGreaterThan(0);
    for (const k of res.cases) {
      expect(k.status, `${k.id}: ${k.reason}`).toBe('ok');
      expect(k.id).toMatch(new RegExp(`/r${NODES}h${NODES}$`)); // the topology in the id
      expect(k.params).toMatchObject({ ranks: NODES, nodes: NODES });
    }
    const nodes = res.environment.nodes as { rank: number; launcher: string; localRank?: number; hostname: string; dataHost: string }[];
    // Every rank, the one beside the coordinator too, is reached at an address of its node, never loopback.
    for (const n of nodes) expect(n.dataHost, n.hostname).not.toMatch(/^127\.|^::1$/);
    // Slurm's block distribution: task i on the i-th node of the allocation. Ranks in different
    // network namespaces cannot reach each other over loopback: the data links crossed the bridge.
    expect(nodes.map((n) => [n.rank, n.launcher, n.localRank, n.hostname])).toEqual(c.nodes.map((h, r) => [r, 'slurm', 0, h]));
    expect(log).toMatch(new RegExp(`coordinator ${c.nodes[0]}:29400`));
  });
});
