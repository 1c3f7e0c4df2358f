/**
 * The control plane's behaviour around faults and launchers, with real processes on
 * loopback: workers that come up before their coordinator, a coordinator that falls
 * silent, a rendezvous that never completes, secrets kept out of every file, data ports
 * from a range, launcher ranks, and the topology in collective case ids. Every process is
 * bounded in time and stops by itself; only 127.0.0.1 is used.
 */
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { createServer } from 'node:net';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stripVTControlCharacters } from 'node:util';
import { CLI, ROOT, gpubench, startCli } from './helpers/cli.js';
import { ResultsFile } from '../src/harness/results/schema.js';
import { rankOrder, reachableDataHosts } from '../src/collectives/control/coordinator.js';
import { REDACTED, redactArgv } from '../src/harness/redact.js';
import { UsageError } from '../src/harness/errors.js';

const tmp = () => mkdtempSync(join(tmpdir(), 'gpubench-ctl-'));
const readResults = (path: string) => ResultsFile.parse(JSON.parse(readFileSync(path, 'utf8')));
const FAST = ['--min-time', '20', '--warmup', '5', '--reporter', 'silent'];
/** Launcher variables of the test runner's own environment must not leak into these workers. */
const CLEAN = { GPUBENCH_TOKEN: '', GPUBENCH_COORDINATOR: '', GPUBENCH_RANK: '', RANK: '', WORLD_SIZE: '', SLURM_PROCID: '', OMPI_COMM_WORLD_RANK: '', JOB_COMPLETION_INDEX: '' };

/** A port that was free a moment ago (bound, then released). */
async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as { port: number }).port;
  await new Promise((r) => srv.close(r));
  return port;
}

describe('workers and the coordinator coming up in any order', () => {
  it('a worker started before its coordinator waits, says what for, and joins once it listens', async () => {
    const port = await freePort();
    const json = join(tmp(), 'r.json');
    const url = `ws://127.0.0.1:${port}`;
    const workers = [0, 1].map(() => startCli(['worker', '--coordinator', url, '--connect-timeout', '30000'], 60_000, CLEAN));
    await workers[0]!.waitFor(/waiting for the coordinator at ws:\/\/127\.0\.0\.1:\d+ \(ECONNREFUSED\)/);
    await new Promise((r) => setTimeout(r, 1500));
    const coord = startCli(['coordinator', '--world-size', '2', '--port', String(port), '--workloads', 'allreduce', '-b', '8', '-e', '1K', '-f', '128', '--json', json, ...FAST], 60_000, CLEAN);
    expect(await coord.exited, coord.stderr()).toBe(0);
    for (const w of workers) {
      expect(await w.exited, w.stderr()).toBe(0);
      expect(w.stderr()).toMatch(/reached the coordinator at .* after \d+\.\d s/);
    }
    expect(readResults(json).cases.every((c) => c.status === 'ok')).toBe(true);
  });

  it('a worker gives up after --connect-timeout with exit 3, naming the address and the last error', async () => {
    const port = await freePort();
    const w = startCli(['worker', '--coordinator', `ws://127.0.0.1:${port}`, '--connect-timeout', '1200'], 30_000, CLEAN);
    const t0 = Date.now();
    expect(await w.exited).toBe(3);
    expect(Date.now() - t0).toBeLessThan(10_000);
    expect(w.stderr()).toMatch(new RegExp(`could not reach the coordinator at ws://127\\.0\\.0\\.1:${port} within 1200 ms \\(\\d+ attempts; last: ECONNREFUSED`));
  });
});

describe('a run that fails still leaves its results file', () => {
  it('a rendezvous that times out writes status failed with run.fault, and exits 3', () => {
    const json = join(tmp(), 'r.json');
    const r = gpubench(['coordinator', '--world-size', '2', '--port', '0', '--rendezvous-timeout', '800', '--workloads', 'allreduce', '-b', '8', '-e', '8', '--json', json, ...FAST], CLEAN, 30_000);
    expect(r.code, r.stderr).toBe(3);
    const res = readResults(json);
    expect(res.run).toMatchObject({ status: 'failed', fault: expect.stringMatching(/timed out after 800 ms waiting for 2 workers \(have 0\)/) });
    expect(res.cases).toEqual([]);
    expect(r.stderr).toMatch(/results: .*r\.json \(status failed\)/);
  });
});

describe('a coordinator that falls silent', () => {
  it('every worker exits 3 within the heartbeat timeout + 5 s, saying it lost the coordinator', async () => {
    const json = join(tmp(), 'r.json');
    const coord = startCli(['coordinator', '--world-size', '2', '--port', '0', '--heartbeat-timeout', '2000', '--workloads', 'allreduce', '-b', '8', '-e', '64MiB', '-f', '2', '--min-time', '300', '--json', json, '--reporter', 'silent'], 60_000, CLEAN);
    const url = (await coord.waitFor(/listening on (ws:\/\/127\.0\.0\.1:\d+)/))[1]!;
    const workers = [0, 1].map(() => startCli(['worker', '--coordinator', url], 60_000, CLEAN));
    await coord.waitFor(/ready/);
    await new Promise((r) => setTimeout(r, 500));
    // A stopped process sends nothing and closes nothing: to its workers, it is a partition.
    coord.child.kill('SIGSTOP');
    const t0 = Date.now();
    try {
      for (const w of workers) {
        expect(await w.exited, w.stderr()).toBe(3);
        expect(w.stderr()).toMatch(/lost the coordinator ws:\/\/127\.0\.0\.1:\d+: nothing heard for \d+ ms \(limit 2000 ms\)/);
      }
      expect(Date.now() - t0).toBeLessThan(2000 + 5000);
    } finally {
      coord.child.kill('SIGCONT');
    }
    expect(await coord.exited).toBe(3);
    expect(readResults(json).run.status).toBe('failed');
  });
});

describe('secrets', () => {
  it('redacts the value of --token in every spelling', () => {
    expect(redactArgv(['coordinator', '--token', 'hunter2', '--world-size', '2'])).toEqual(['coordinator', '--token', REDACTED, '--world-size', '2']);
    expect(redactArgv(['coordinator', '--token=hunter2'])).toEqual(['coordinator', `--token=${REDACTED}`]);
    expect(redactArgv(['--token'])).toEqual(['--token']);
    expect(redactArgv(['--tokens', 'x'])).toEqual(['--tokens', 'x']);
  });

  it('a token given on the command line reaches no results file, JSONL line or report', async () => {
    const secret = 'tok-3f9c1e7a55d04b2b';
    const dir = tmp();
    const json = join(dir, 'r.json');
    const coord = startCli(['coordinator', '--world-size', '2', '--port', '0', `--token=${secret}`, '--workloads', 'allreduce', '-b', '8', '-e', '1K', '-f', '128', '--json', json, '--report', 'html,md,csv,gab,bmf,openmetrics', ...FAST], 60_000, CLEAN);
    const url = (await coord.waitFor(/listening on (ws:\/\/127\.0\.0\.1:\d+)/))[1]!;
    const workers = [0, 1].map(() => startCli(['worker', '--coordinator', url, '--token', secret], 60_000, CLEAN));
    expect(await coord.exited, coord.stderr()).toBe(0);
    for (const w of workers) expect(await w.exited, w.stderr()).toBe(0);
    const files = readdirSync(dir);
    expect(files.length).toBeGreaterThanOrEqual(8);
    for (const f of files) expect(readFileSync(join(dir, f), 'utf8'), f).not.toContain(secret);
    for (const p of [coord, ...workers]) expect(p.stderr()).not.toContain(secret);
    expect(readResults(json).run.argv).toContain(`--token=${REDACTED}`);
  });
});

describe('data addresses', () => {
  const j = (hostname: string, dataHost: string, via: string) => ({ hello: { hostname, dataHost }, via });

  it('a worker beside the coordinator that reached it over loopback gets the address other hosts reached it at', () => {
    // node1 runs the coordinator and rank 0; its name resolves to 127.0.1.1 (Debian's /etc/hosts).
    const joined = [j('node1', '127.0.0.1', '127.0.1.1'), j('node2', '10.9.0.2', '::ffff:10.9.0.1'), j('node3', '10.9.0.3', '10.9.0.1')];
    reachableDataHosts(joined);
    expect(joined.map((x) => x.hello.dataHost)).toEqual(['10.9.0.1', '10.9.0.2', '10.9.0.3']);
  });

  it('leaves loopback alone on one host, and an explicit --data-host everywhere', () => {
    const oneHost = [j('a', '127.0.0.1', '127.0.0.1'), j('a', '127.0.0.1', '127.0.0.1')];
    reachableDataHosts(oneHost);
    expect(oneHost.map((x) => x.hello.dataHost)).toEqual(['127.0.0.1', '127.0.0.1']);
    const explicit = [j('node1', '192.168.7.1', '127.0.1.1'), j('node2', '10.9.0.2', '10.9.0.1')];
    reachableDataHosts(explicit);
    expect(explicit[0]!.hello.dataHost).toBe('192.168.7.1');
  });
});

describe('data ports', () => {
  it('a worker listens for its data links on a port from --data-ports', async () => {
    const lo = await freePort();
    const json = join(tmp(), 'r.json');
    const coord = startCli(['coordinator', '--world-size', '2', '--port', '0', '--workloads', 'allreduce', '-b', '8', '-e', '8', '--json', json, ...FAST], 60_000, CLEAN);
    const url = (await coord.waitFor(/listening on (ws:\/\/127\.0\.0\.1:\d+)/))[1]!;
    const workers = [0, 1].map(() => startCli(['worker', '--coordinator', url, '--data-ports', `${lo}-${lo + 40}`], 60_000, CLEAN));
    expect(await coord.exited, coord.stderr()).toBe(0);
    for (const w of workers) {
      expect(await w.exited, w.stderr()).toBe(0);
      const port = Number(w.stderr().match(/listening at 127\.0\.0\.1:(\d+)/)![1]);
      expect(port).toBeGreaterThanOrEqual(lo);
      expect(port).toBeLessThanOrEqual(lo + 40);
    }
  });

  it.each([['40000-39999'], ['0-10'], ['1-70000'], ['http']])('--data-ports %s is a usage error', (range) => {
    const r = gpubench(['worker', '--coordinator', 'ws://127.0.0.1:1', '--data-ports', range], CLEAN);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toMatch(/--data-ports/);
  });
});

describe('ranks from launchers', () => {
  const hello = (rankHint: number | undefined, pid: number) => ({ rankHint, hostname: 'h', pid, launcher: rankHint === undefined ? undefined : 'openmpi' });

  it('orders workers by their launcher ranks, or by arrival where none has one', () => {
    expect(rankOrder([hello(2, 1), hello(0, 2), hello(1, 3)], 3)).toEqual([1, 2, 0]);
    expect(rankOrder([hello(undefined, 1), hello(undefined, 2)], 2)).toEqual([0, 1]);
  });

  it('refuses clashing, out-of-range or half-given launcher ranks, naming the workers', () => {
    expect(() => rankOrder([hello(1, 1), hello(1, 2)], 2)).toThrow(/pid 1 \(openmpi\) and h pid 2 \(openmpi\) both have launcher rank 1/);
    expect(() => rankOrder([hello(0, 1), hello(5, 2)], 2)).toThrow(/launcher rank 5, outside 0\.\.1/);
    expect(() => rankOrder([hello(0, 1), hello(undefined, 2)], 2)).toThrow(UsageError);
  });

  it('local workers are ranked by gpubench even inside a launcher\'s task', () => {
    const json = join(tmp(), 'r.json');
    // As if `srun gpubench run --local-nodes 2` ran as Slurm task 0 of 1.
    const r = gpubench(['run', '--workloads', 'allreduce', '--local-nodes', '2', '-b', '8', '-e', '8', '--json', json, ...FAST], { ...CLEAN, SLURM_PROCID: '0', SLURM_NTASKS: '1', SLURM_JOB_NODELIST: 'nowhere' }, 60_000);
    expect(r.code, r.stderr).toBe(0);
    expect(readResults(json).environment.nodes.map((n) => [n.rank, n.launcher])).toEqual([[0, 'explicit'], [1, 'explicit']]);
  });
});

describe('collective case ids carry the topology', () => {
  it('names ranks and hosts, so runs on other topologies are other cases', () => {
    const dir = tmp();
    const ids = (n: number) => {
      const json = join(dir, `r${n}.json`);
      const r = gpubench(['run', '--workloads', 'allreduce', '--local-nodes', String(n), '-b', '1K', '-e', '1K', '--json', json, ...FAST], CLEAN, 60_000);
      expect(r.code, r.stderr).toBe(0);
      return readResults(json).cases.map((c) => [c.id, c.params.ranks, c.params.nodes]);
    };
    expect(ids(2)).toEqual([['allreduce/ws/f32/sum/auto/1024/r2h1', 2, 1]]);
    expect(ids(3)).toEqual([['allreduce/ws/f32/sum/auto/1024/r3h1', 3, 1]]);
    // Two topologies share no case: compare says so rather than pairing them.
    const c = gpubench(['compare', join(dir, 'r2.json'), join(dir, 'r3.json')]);
    expect(c.code, c.stderr).toBe(2);
    expect(c.stderr).toMatch(/no case id in common/);
  });
});

describe('progress of a multi-process run', () => {
  it('the coordinator\'s terminal shows case i/N, the size, the phase, its seconds and the run\'s ETA', () => {
    const json = join(tmp(), 'tty.json');
    const cmd = `stty rows 40 cols 200; ${process.execPath} ${CLI} run --workloads allreduce --local-nodes 2 -b 1K -e 4K -f 4 --json ${json} --min-time 1500 --warmup 5`;
    const r = spawnSync('script', ['-qec', cmd, '/dev/null'], { cwd: ROOT, encoding: 'utf8', env: { ...process.env, ...CLEAN, CI: '' }, timeout: 120_000 });
    expect(r.status, r.stdout).toBe(0);
    const out = stripVTControlCharacters(r.stdout);
    // Before rank 0's first sample the case is checking or warming up on the workers.
    expect(out).toMatch(/\[1\/2\] allreduce\/ws\/f32\/sum\/auto\/1024\/r2h1 +1 KiB +check\/warm-up \d+ s +· run \d+:\d\d, ETA ~\d+:\d\d/);
    // Rank 0 reports its samples while the case runs.
    expect(out).toMatch(/\[2\/2\] allreduce\/ws\/f32\/sum\/auto\/4096\/r2h1 +4 KiB +samples \d+ s +sample \d+ +· run \d+:\d\d/);
  });
});
