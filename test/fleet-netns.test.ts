/**
 * `gpubench fleet` on a real small cluster: six Linux network namespaces on a bridge
 * (test/helpers/netns.ts), each with its own address, TCP/IP stack and hostname; the
 * coordinator on node0 beside rank 0, one plain `gpubench worker` per node. Every node's
 * switch port is rate-limited with tbf, node3's to a quarter of the others' rate, and
 * node5's worker is CPU-throttled through its cgroup as the timed phases begin. The
 * verdict must name node3 (through its links) and node5 (its matmul), no healthy node,
 * and write `node[3,5]` to the exclude file, in 3 runs out of 3. The six "machines" share
 * this host's two cores, so pairs are measured one at a time (`--pairs-at-once 1`): three
 * at once would measure the CPU the namespaces share, not the links.
 *
 * Needs root and `ip netns` (and a cgroup cpu controller); skipped with the reason
 * otherwise, failed instead under GPUBENCH_REQUIRE_CLUSTER=1 (CI).
 */
import { afterAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CLI } from './helpers/cli.js';
import { makeCluster, netnsMissing, REQUIRE_CLUSTER, type NetnsCluster } from './helpers/netns.js';
import { watch, type Watched } from './helpers/watch.js';
import { median } from 'simple-statistics';
import { cpuThrottleMissing, makeThrottle, type Throttle } from './helpers/cpu-throttle.js';

const missing = netnsMissing() ?? cpuThrottleMissing();
if (missing && REQUIRE_CLUSTER) throw new Error(`GPUBENCH_REQUIRE_CLUSTER=1 but the fleet cluster test cannot run: ${missing}`);
const N = 6;
const NARROW = 3;
const THROTTLED = 5;
const RATE_MBIT = 200;
const TOKEN = 'fleet-netns-token-7c2d';
const PORT = 29400;
const FAST = ['--matmul-size', '128', '--sample-ms', '200', '--warmup', '100', '--samples', '6', '--pair-bytes', '128K', '--pairs-at-once', '1', '--pair-samples', '6', '--ping-samples', '20', '--allreduce-bytes', '0', '--memcpy', 'none', '--task-timeout', '60000'];
/** Launcher variables from the surrounding environment must not leak in; empty = unset. */
const CLEAN_ENV = Object.fromEntries(['GPUBENCH_COORDINATOR', 'RANK', 'WORLD_SIZE', 'LOCAL_RANK', 'MASTER_ADDR', 'SLURM_PROCID', 'SLURM_NTASKS', 'SLURM_JOB_NODELIST',
  'OMPI_COMM_WORLD_RANK', 'OMPI_COMM_WORLD_SIZE', 'JOB_COMPLETION_INDEX', 'GPUBENCH_DEBUG'].map((k) => [k, '']));

const dir = mkdtempSync(join(tmpdir(), 'gpubench-fleet-netns-'));
let cluster: NetnsCluster | undefined;
let throttle: Throttle | undefined;
afterAll(async () => {
  await cluster?.destroy();
  throttle?.remove();
  rmSync(dir, { recursive: true, force: true });
});

describe.skipIf(missing !== undefined)(`gpubench fleet on a namespace cluster${missing ? ` (skipped: ${missing})` : ''}`, () => {
  it('names the narrow node (its links) and the throttled one (its matmul), no healthy node, 3 runs of 3', async () => {
    const c = (cluster = makeCluster(N, { hostPrefix: 'node' }));
    for (let i = 0; i < N; i++) c.limit(i, i === NARROW ? RATE_MBIT / 4 : RATE_MBIT, { egress: true });
    throttle = makeThrottle('fleet-netns', 0.05);
    const env = { ...CLEAN_ENV, GPUBENCH_TOKEN: TOKEN };
    for (let run = 1; run <= 3; run++) {
      const t0 = performance.now();
      const json = join(dir, `run${run}.json`);
      const exclude = join(dir, `run${run}.exclude`);
      const fleet = watch(c.exec(0, [process.execPath, CLI, 'fleet', '--world-size', String(N), '--host', '0.0.0.0', '--port', String(PORT), '--json', json, '--exclude-file', exclude, ...FAST], env), 60_000);
      await fleet.waitFor(/listening on ws:\/\//, 30_000);
      const workers: Watched[] = c.nodes.map((_, i) => watch(c.exec(i, [process.execPath, CLI, 'worker', '--coordinator', `ws://${c.nodes[0]!.ip}:${PORT}`],
        { ...env, GPUBENCH_RANK: String(i), GPUBENCH_WORLD_SIZE: String(N), GPUBENCH_LOCAL_RANK: '0' }), 60_000));
      await fleet.waitFor(/matmul on every node at once/, 40_000);
      writeFileSync(throttle.procs, String(workers[THROTTLED]!.child.pid));
      const code = await fleet.exited;
      const codes = await Promise.all(workers.map((w) => w.exited));
      const r = JSON.parse(readFileSync(json, 'utf8'));
      if (process.env.GPUBENCH_FLEET_KEEP) writeFileSync(join(process.env.GPUBENCH_FLEET_KEEP, `netns-run${run}.json`), JSON.stringify(r));
      const f = r.fleet;
      process.stderr.write(`run ${run}: ${((performance.now() - t0) / 1000).toFixed(1)} s, exit ${code}; phases ${JSON.stringify(f.phaseMs)}; suspects:\n${f.suspects.map((s: { evidence: string }) => `  ${s.evidence}`).join('\n')}\n`);
      expect(code, fleet.stderr()).toBe(1);
      expect(codes).toEqual(Array(N).fill(0));
      const by = (via: string) => f.suspects.filter((s: { via: string }) => s.via === via).map((s: { ranks: number[] }) => s.ranks[0]);
      expect(by('links')).toContain(NARROW);
      // Blamed for its links, then its rounds measured again: a narrow port stays narrow.
      expect(f.suspects.find((s: { via: string }) => s.via === 'links').evidence).toMatch(/measured again \(\d+ links, their rounds as at first\): still slow/);
      expect(by('node')).toContain(THROTTLED);
      expect([...new Set(f.suspects.flatMap((s: { ranks: number[] }) => s.ranks))].sort(), f.suspects.map((s: { evidence: string }) => s.evidence).join('\n')).toEqual([NARROW, THROTTLED]);
      expect(f.suspects.map((s: { hosts: string[] }) => s.hosts).flat().sort()).toEqual(expect.arrayContaining(['node3', 'node5']));
      expect(readFileSync(exclude, 'utf8').trim()).toBe('node[3,5]');
      // The narrow node's links run at about a quarter of the others' (tbf shapes both ways).
      const bw = f.pairs.matrix.bandwidthMBps as number[][];
      const fine = [0, 1, 2, 4];
      const healthy = median(fine.flatMap((a) => fine.filter((b) => b > a).map((b) => bw[a]![b]!)));
      expect(median(fine.map((a) => bw[NARROW]![a]!)) / healthy).toBeLessThan(0.45);
    }
    throttle.remove();
    throttle = undefined;
  }, 88_000);
});
