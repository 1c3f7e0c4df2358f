/**
 * NCCL in a world planned from the workers, and several GPUs per worker process, with real
 * processes on loopback and the fake multi-process NCCL (test/helpers/fake-nccl-multi.c):
 *
 * - a coordinator with no CUDA libraries at all (GPUBENCH_CUDA_LIBRARY_PATH names an empty
 *   folder) plans nccl cases from what its workers probed where they run, and they are run
 *   and checked; a worker without NCCL makes them skipped, naming its rank, host and reason,
 *   while the ws cases of the same run still run;
 * - `--gpus-per-process 2`: one process drives two "GPUs" as two consecutive ranks, their
 *   communicators brought up in one ncclGroupStart/End and each collective issued for both
 *   in one group; 2 processes × 2 = 4 ranks, every rank checked; a rank count that cannot
 *   add up to --world-size is a usage error (exit 2).
 */
import { afterAll, describe, expect, it } from 'vitest';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { ResultsFile } from '../src/harness/results/schema.js';
import { ncclDevicesFor, worldNcclProbe } from '../src/collectives/nccl/world-probe.js';
import { CC } from './helpers/fake-cuda.js';
import { fakeNcclSetup } from './helpers/fake-nccl-setup.js';
import { gpubench, startCli, type StartedCli } from './helpers/cli.js';

const { addon, why, tmp, fakes } = fakeNcclSetup('gpubench-nccl-world-');
const withFakes = it.skipIf(!addon || !CC);
const started: StartedCli[] = [];
afterAll(() => {
  for (const s of started) if (s.child.exitCode === null && s.child.signalCode === null) s.child.kill('SIGKILL');
});

/** A library folder with nothing in it: no CUDA, no NCCL, even on a GPU host. */
const empty = tmp();

const suite = (yaml: string) => {
  const f = join(tmp(), 's.yaml');
  writeFileSync(f, `schema: gpubench.suite/v1\nname: nccl-world\nmeasure: { warmupMs: 5, minTimeMs: 5, minSamples: 3, maxSamples: 3, minSampleMs: 1 }\nworkloads:\n${yaml}`);
  return f;
};
const readResults = (path: string) => ResultsFile.parse(JSON.parse(readFileSync(path, 'utf8')));

/** A fake-GPU worker's environment (host memory as device memory, NCCL across processes). */
const gpuEnv = (dir: string, devices = 4): NodeJS.ProcessEnv => ({
  GPUBENCH_CUDA_LIBRARY_PATH: fakes, FAKE_CUDA: 'host', FAKE_CUDA_DEVICES: String(devices), FAKE_NCCL: 'multi', FAKE_NCCL_DIR: dir, FAKE_NCCL_TIMEOUT_MS: '20000',
});
const start = (args: string[], env: NodeJS.ProcessEnv, ms = 60_000) => {
  const s = startCli(args, ms, env);
  started.push(s);
  return s;
};

describe(`nccl planned from the workers' probes${why ? ` (skipped: ${why})` : ''}`, () => {
  const yaml = [
    '  - { workload: allreduce, backends: [nccl, ws], minBytes: 4096, maxBytes: 4096 }',
    '  - { workload: broadcast, backends: [nccl, ws], root: 1, minBytes: 1024, maxBytes: 1024 }',
    '',
  ].join('\n');

  /** A coordinator without any CUDA library and two workers, the second with `second`'s environment. */
  async function world(second: (dir: string) => NodeJS.ProcessEnv) {
    const dir = tmp();
    const json = join(dir, 'r.json');
    // Named on the command line, an unavailable backend's cases are in the results as skipped.
    const coord = start(['coordinator', '--world-size', '2', '--port', '0', '--suite', suite(yaml), '--backends', 'nccl,ws', '--json', json, '--reporter', 'silent'], {
      GPUBENCH_CUDA_LIBRARY_PATH: empty, FAKE_CUDA: '', FAKE_NCCL: '',
    });
    const url = (await coord.waitFor(/listening on (ws:\/\/127\.0\.0\.1:\d+)/))[1]!;
    // Rank order from the launcher variables, so the reason's rank is known.
    const w0 = start(['worker', '--coordinator', url], { ...gpuEnv(dir), GPUBENCH_RANK: '0', GPUBENCH_WORLD_SIZE: '2', GPUBENCH_LOCAL_RANK: '0' });
    const w1 = start(['worker', '--coordinator', url], { ...second(dir), GPUBENCH_RANK: '1', GPUBENCH_WORLD_SIZE: '2', GPUBENCH_LOCAL_RANK: '1' });
    const codes = { coord: await coord.exited, w0: await w0.exited, w1: await w1.exited };
    return { codes, coord, res: readResults(json) };
  }

  withFakes('a coordinator without CUDA or NCCL runs nccl cases on workers that have them: every rank checked', async () => {
    const { codes, coord, res } = await world(gpuEnv);
    expect(codes, coord.stderr()).toEqual({ coord: 0, w0: 0, w1: 0 });
    expect(coord.stderr()).not.toMatch(/nccl unavailable/);
    const nccl = res.cases.filter((c) => c.backend === 'nccl');
    expect(nccl).toHaveLength(2);
    for (const c of nccl) {
      expect(c.status, `${c.id}: ${c.reason}`).toBe('ok');
      expect(c.timer).toBe('cuda-event');
      expect(c.ranks!.map((k) => [k.rank, k.check!.passed, k.check!.checked])).toEqual([[0, true, c.params.count], [1, true, c.params.count]]);
    }
    for (const c of res.cases.filter((x) => x.backend === 'ws')) expect(c.status, c.reason).toBe('ok');
    // The devices are the workers' GPUs (host:cuda:N), as they reported them.
    const devs = res.devices.filter((d) => d.backend === 'nccl');
    expect(devs.map((d) => d.id)).toEqual([`${hostname()}:cuda:0`, `${hostname()}:cuda:1`]);
    expect(devs[0]).toMatchObject({ name: 'NVIDIA Fake H100 80GB HBM3', memoryBytes: 80 * 2 ** 30 });
    // environment.nodes records each worker's own probe.
    for (const [i, n] of res.environment.nodes.entries()) {
      expect(n.backends).toMatchObject({ nccl: { available: true, version: '2.27.3', use: [i] } });
      expect((n.backends as { nccl: { devices: unknown[] } }).nccl.devices).toHaveLength(4);
    }
  });

  withFakes('a worker without NCCL: the nccl cases are skipped naming its rank, host and reason; the ws cases still run', async () => {
    const { codes, coord, res } = await world(() => ({ GPUBENCH_CUDA_LIBRARY_PATH: empty }));
    // As for any unavailable backend: skipped, reported, and the run's exit code from what ran.
    expect(codes, coord.stderr()).toEqual({ coord: 0, w0: 0, w1: 0 });
    const reason = new RegExp(`NCCL is missing on 1 of 2 workers: rank 1 \\(${hostname()}\\): .*(not found|no CUDA driver|libcuda)`);
    expect(coord.stderr()).toMatch(new RegExp(`gpubench: nccl unavailable: ${reason.source}`));
    const nccl = res.cases.filter((c) => c.backend === 'nccl');
    expect(nccl).toHaveLength(2);
    for (const c of nccl) expect(c).toMatchObject({ status: 'skipped', reason: expect.stringMatching(reason) });
    const ws = res.cases.filter((c) => c.backend === 'ws');
    expect(ws).toHaveLength(2);
    for (const c of ws) expect(c.status, c.reason).toBe('ok');
    expect(res.environment.nodes[1]!.backends).toMatchObject({ nccl: { available: false } });
  });
});

describe(`several GPUs per worker process (--gpus-per-process)${why ? ` (skipped: ${why})` : ''}`, () => {
  withFakes('--local-nodes 2 --gpus-per-process 2 --backends nccl,ws: 4 ranks, allreduce/allgather/broadcast ok on every rank, busbw for 4', () => {
    const dir = tmp();
    const json = join(dir, 'r.json');
    const r = gpubench(
      ['run', '--local-nodes', '2', '--gpus-per-process', '2', '--backends', 'nccl,ws', '--workloads', 'allreduce,allgather,broadcast', '-b', '4K', '-e', '4K',
        '--min-time', '5', '--warmup', '2', '--json', json, '--reporter', 'silent'],
      gpuEnv(dir),
      90_000,
    );
    expect(r.code, r.stderr).toBe(0);
    // Every communicator destroyed (the fake's last rank out removes its rendezvous folder).
    expect(readdirSync(dir).filter((f) => f.startsWith('gpubench-fake-nccl-'))).toEqual([]);
    const res = readResults(json);
    expect(res.run.cluster).toMatchObject({ worldSize: 4 });
    // Two processes, each its first rank, its two ranks and the GPUs they drive.
    expect(res.environment.nodes.map((n) => [n.rank, n.ranks, (n.backends as { nccl: { use: number[] } }).nccl.use])).toEqual([[0, 2, [0, 1]], [2, 2, [2, 3]]]);
    const nccl = res.cases.filter((c) => c.backend === 'nccl');
    expect(nccl.map((c) => c.workload).sort()).toEqual(['allgather', 'allreduce', 'broadcast']);
    // The same 4 ranks carry ws cases too (in-process between a process's ranks, WebSockets across).
    const ws = res.cases.filter((c) => c.backend === 'ws');
    expect(ws).toHaveLength(3);
    for (const c of ws) {
      expect(c.status, `${c.id}: ${c.reason}`).toBe('ok');
      expect(c.ranks!.map((k) => [k.rank, k.check!.passed])).toEqual([0, 1, 2, 3].map((k) => [k, true]));
    }
    for (const c of nccl) {
      expect(c.impl!.notes!.join('\n')).toMatch(/4 ranks, one GPU each, in 2 processes \(each process's ranks brought up and called in one ncclGroupStart\/ncclGroupEnd/);
      expect(c.status, `${c.id}: ${c.reason}`).toBe('ok');
      expect(c.id).toMatch(/\/r4h1$/);
      expect(c.ranks!.map((k) => k.rank)).toEqual([0, 1, 2, 3]);
      const own = Number(c.params.count);
      for (const k of c.ranks!) expect(k.check, `${c.id} rank ${k.rank}`).toMatchObject({ passed: true, wrong: 0, checked: own });
      expect(String(c.impl!.config!.devices)).toMatch(/^[^,]+:cuda:0,[^,]+:cuda:1,[^,]+:cuda:2,[^,]+:cuda:3$/);
      const factor = c.workload === 'allreduce' ? 2 * 3 / 4 : c.workload === 'allgather' ? 3 / 4 : 1;
      expect(c.metrics.busbwGBps).toBeCloseTo(c.metrics.algbwGBps! * factor, 9);
    }
  });

  /** `--local-nodes 2 --gpus-per-process 2 --backends nccl`, one all-reduce, with fault `env`. */
  const faulty = (env: NodeJS.ProcessEnv) => {
    const dir = tmp();
    const json = join(dir, 'r.json');
    const r = gpubench(['run', '--local-nodes', '2', '--gpus-per-process', '2', '--backends', 'nccl', '--workloads', 'allreduce', '-b', '1K', '-e', '1K',
      '--min-time', '5', '--warmup', '2', '--json', json, '--reporter', 'silent'], { ...gpuEnv(dir), ...env }, 60_000);
    return { ...r, res: readResults(json) };
  };

  withFakes('a wrong output on the second rank of a process fails the case on that rank alone (exit 1)', () => {
    const r = faulty({ FAKE_NCCL_WRONG: '3' });
    expect(r.code, r.stderr).toBe(1);
    expect(r.res.cases[0]).toMatchObject({ status: 'failed', reason: expect.stringMatching(/^wrong result on rank 3: 1 wrong of \d+ checked$/) });
    expect(r.res.cases[0]!.ranks!.map((k) => k.check!.wrong)).toEqual([0, 0, 0, 1]);
  });

  withFakes('a rank of a group that never arrives at ncclCommInitRank: named, exit 3 within a bound, nothing hangs', () => {
    const t0 = Date.now();
    const r = faulty({ FAKE_NCCL_ABSENT: '3', FAKE_NCCL_TIMEOUT_MS: '2000' });
    expect(r.code, r.stderr).toBe(3);
    expect(Date.now() - t0).toBeLessThan(45_000);
    expect(r.res.run.fault).toMatch(/ranks 0–1 \([^)]+\): .*ncclCommInitRank.*rank 3 of 4, which never arrived/);
  });

  withFakes('workers whose ranks cannot add up to --world-size: a clear usage error, exit 2', async () => {
    const dir = tmp();
    const coord = start(['coordinator', '--world-size', '3', '--port', '0', '--workloads', 'allreduce', '--backends', 'ws', '-b', '1K', '-e', '1K', '--json', join(dir, 'r.json'), '--reporter', 'silent'], {});
    const url = (await coord.waitFor(/listening on (ws:\/\/127\.0\.0\.1:\d+)/))[1]!;
    const w0 = start(['worker', '--coordinator', url, '--gpus-per-process', '2'], gpuEnv(dir));
    await coord.waitFor(/joined with 2 ranks \(2\/3\)/);
    const w1 = start(['worker', '--coordinator', url, '--gpus-per-process', '2'], gpuEnv(dir));
    expect(await coord.exited, coord.stderr()).toBe(2);
    expect(coord.stderr()).toMatch(/rank count mismatch: the workers run 4 ranks \(.*pid \d+: 2, .*pid \d+: 2\) but --world-size is 3/);
    expect(await w0.exited).toBe(2);
    expect(await w1.exited).toBe(2);
  });
});

describe('planning a world from the workers\' probes', () => {
  const gpu = (i: number, memoryBytes = 80 * 2 ** 30) => ({ id: `cuda:${i}`, name: 'GPU', memoryBytes });

  it('available when every worker has NCCL; devices are the GPUs they drive; the oldest NCCL decides', () => {
    const p = worldNcclProbe(3, [
      { ranks: [0, 1], hostname: 'a', backends: { nccl: { available: true, devices: [gpu(0), gpu(1)], use: [0, 1], version: '2.27.3', versionCode: 22703 } } },
      { ranks: [2], hostname: 'b', backends: { nccl: { available: true, devices: [gpu(0, 40 * 2 ** 30)], use: [0], version: '2.21.5', versionCode: 22105 } } },
    ]);
    expect(p).toMatchObject({ available: true, versionCode: 22105 });
    if (!p.available) throw new Error('unreachable');
    expect(p.devices.map((d) => [d.id, d.memoryBytes])).toEqual([['a:cuda:0', 80 * 2 ** 30], ['a:cuda:1', 80 * 2 ** 30], ['b:cuda:0', 40 * 2 ** 30]]);
    expect(p.notes?.[0]).toBe('the workers have different NCCL versions: 2.27.3, 2.21.5');
  });

  it('otherwise names every worker lacking it, with its ranks, host and own reason', () => {
    const p = worldNcclProbe(4, [
      { ranks: [0], hostname: 'a', backends: { nccl: { available: true, use: [0] } } },
      { ranks: [1], hostname: 'b', backends: { nccl: { available: false, reason: 'libnccl.so.2 not found: x' } } },
      { ranks: [2, 3], hostname: 'c' },
    ]);
    expect(p).toEqual({ available: false, reason: 'NCCL is missing on 2 of 3 workers: rank 1 (b): libnccl.so.2 not found: x; ranks 2–3 (c): reported no NCCL probe' });
  });

  it('before the workers join the answer is provisional', () => {
    expect(worldNcclProbe(2, undefined)).toMatchObject({ available: true, devices: [] });
  });

  it('a worker of N GPUs drives local rank × N + i, or the GPUBENCH_CUDA_DEVICE list', () => {
    expect(ncclDevicesFor(1, 2, {})).toEqual([2, 3]);
    expect(ncclDevicesFor(undefined, 3, {})).toEqual([0, 1, 2]);
    expect(ncclDevicesFor(5, 2, { GPUBENCH_CUDA_DEVICE: '6, 7' })).toEqual([6, 7]);
    expect(ncclDevicesFor(0, 1, { GPUBENCH_CUDA_DEVICE: '3' })).toEqual([3]);
    expect(() => ncclDevicesFor(0, 2, { GPUBENCH_CUDA_DEVICE: '3' })).toThrow(/names 1 GPU but this worker runs 2 ranks/);
    expect(() => ncclDevicesFor(0, 2, { GPUBENCH_CUDA_DEVICE: '1,1' })).toThrow(/names a GPU twice/);
    expect(() => ncclDevicesFor(0, 1, { GPUBENCH_CUDA_DEVICE: 'x' })).toThrow(/not a CUDA ordinal/);
  });
});
