/**
 * A collective across hosts is measured against the network: two workers on two network
 * namespaces (test/helpers/netns.ts: each its own hostname and a veth, which the kernel
 * reports at 10000 Mb/s), the coordinator on a third. Each worker finds the interface that
 * holds its data address (eth0) and sends its host topology; the coordinator records every
 * node's and puts the slowest data interface's rate under each case (busbw / 1.25 GB/s).
 */
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CLI } from './helpers/cli.js';
import { makeCluster, netnsMissing, type NetnsCluster } from './helpers/netns.js';
import { watch } from './helpers/watch.js';
import { ResultsFile } from '../src/harness/results/schema.js';
import type { HostTopology } from '../src/harness/topology/schema.js';

const missing = netnsMissing();
const TOKEN = 'topology-netns-token-7c2d';
const PORT = 29400;
/** Launcher variables of a surrounding job must not leak in; empty = unset. */
const CLEAN_ENV = Object.fromEntries(['GPUBENCH_RANK', 'GPUBENCH_WORLD_SIZE', 'GPUBENCH_COORDINATOR', 'RANK', 'WORLD_SIZE', 'LOCAL_RANK', 'MASTER_ADDR',
  'SLURM_PROCID', 'SLURM_NTASKS', 'SLURM_JOB_NODELIST', 'OMPI_COMM_WORLD_RANK', 'OMPI_COMM_WORLD_SIZE', 'JOB_COMPLETION_INDEX', 'GPUBENCH_DEBUG'].map((k) => [k, '']));

const dirs: string[] = [];
let cluster: NetnsCluster | undefined;
afterEach(async () => {
  await cluster?.destroy(); // kills every process started on it by pid, removes the namespaces
  cluster = undefined;
});
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe.skipIf(missing !== undefined)(`topology across hosts${missing ? ` (skipped: ${missing})` : ''}`, () => {
  it('ws all-reduce on 2 hosts: each node’s topology names eth0 (10000 Mb/s) as its data interface; every case carries the 1.25 GB/s network ceiling', async () => {
    const c = makeCluster(3);
    cluster = c;
    const dir = mkdtempSync(join(tmpdir(), 'gpubench-topo-netns-'));
    dirs.push(dir);
    const json = join(dir, 'r.json');
    const env = { ...CLEAN_ENV, GPUBENCH_TOKEN: TOKEN };
    const coord = watch(c.exec(0, [process.execPath, CLI, 'coordinator', '--world-size', '2', '--host', '0.0.0.0', '--port', String(PORT),
      '--workloads', 'allreduce', '-b', '1M', '-e', '1M', '--min-time', '20', '--warmup', '5', '--reporter', 'silent', '--json', json], env), 60_000);
    await coord.waitFor(/listening on ws:\/\//, 30_000);
    const workers = [1, 2].map((i) => watch(c.exec(i, [process.execPath, CLI, 'worker', '--coordinator', `ws://${c.nodes[0]!.ip}:${PORT}`], env), 60_000));
    const codes = await Promise.all([coord.exited, ...workers.map((w) => w.exited)]);
    expect(codes, [coord, ...workers].map((w) => w.stderr()).join('\n---\n')).toEqual([0, 0, 0]);
    const res = ResultsFile.parse(JSON.parse(readFileSync(json, 'utf8')));
    expect(res.environment.nodes.map((n) => n.hostname).sort()).toEqual(['node1', 'node2']);
    for (const n of res.environment.nodes) {
      const t = n.topology as HostTopology;
      expect(t.dataInterface).toBe('eth0');
      expect(t.nics.find((x) => x.name === 'eth0')).toMatchObject({ speedMbps: 10000, operstate: 'up', virtual: true, addresses: expect.arrayContaining([n.dataHost]) });
    }
    // The coordinator's own environment: its namespace's eth0, no data interface of its own.
    expect(res.environment.topology!.nics.find((x) => x.name === 'eth0')).toMatchObject({ speedMbps: 10000 });
    expect(res.cases.length).toBeGreaterThan(0);
    for (const k of res.cases) {
      expect(k.status, `${k.id}: ${k.reason}`).toBe('ok');
      expect(k.link).toMatchObject({ kind: 'network', ceilingGBps: 1.25, metric: 'busbwGBps' });
      expect(k.link!.what).toMatch(/^eth0 on node[12], 10000 Mb\/s \(slowest data interface of 2 hosts\)$/);
      expect(k.link!.pct).toBeCloseTo((100 * k.metrics.busbwGBps!) / 1.25, 9);
      expect(k.metrics.pctOfLink).toBe(k.link!.pct);
    }
  });
});
