/**
 * The control plane with real processes on loopback: `run --local-nodes`, a coordinator
 * with separately started workers, a garbage-sending peer cut off without harm, a
 * killed worker ending the run with exit 3, and bad usage exiting 2. Every process is
 * bounded in time and stops by itself; only 127.0.0.1 is used.
 */
import { hostReduction } from '../src/collectives/native-reduce.js';
import { describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { WebSocket } from 'ws';
import { gpubench, startCli as start } from './helpers/cli.js';
import { ResultsFile } from '../src/harness/results/schema.js';
import { JIT_WARMUP_MIN_BYTES } from '../src/collectives/jit-warmup.js';
import { PROTOCOL_VERSION } from '../src/collectives/control/protocol.js';

const tmp = () => mkdtempSync(join(tmpdir(), 'gpubench-coll-'));
const readResults = (path: string) => ResultsFile.parse(JSON.parse(readFileSync(path, 'utf8')));
const FAST = ['--min-time', '20', '--warmup', '5', '--reporter', 'silent'];

describe('run --local-nodes', () => {
  it('runs all-reduce on 4 worker processes: every size ok, checked on every rank, nccl-tests metrics, fits, nodes', () => {
    const json = join(tmp(), 'r.json');
    const r = gpubench(['run', '--workloads', 'allreduce', '--local-nodes', '4', '-b', '8', '-e', '16MiB', '-f', '8', '--json', json, ...FAST], {}, 120_000);
    expect(r.code, r.stderr).toBe(0);
    const res = readResults(json);
    expect(res.run.status).toBe('complete');
    expect(res.environment.nodes).toHaveLength(4);
    // Local workers carry their rank in GPUBENCH_RANK; the coordinator honours it.
    expect(res.environment.nodes.map((n) => [n.rank, n.launcher])).toEqual([0, 1, 2, 3].map((r) => [r, 'explicit']));
    expect(res.run.cluster).toMatchObject({ worldSize: 4, protocolErrors: [] });
    const sizes = res.cases.map((c) => c.params.bytes);
    expect(sizes).toEqual([8, 64, 512, 4096, 32768, 262144, 2097152, 16777216]);
    for (const c of res.cases) {
      expect(c.status, `${c.id}: ${c.reason}`).toBe('ok');
      expect(c.check).toMatchObject({ passed: true, wrong: 0 });
      expect(c.ranks).toHaveLength(4);
      for (const rk of c.ranks!) expect(rk.check).toMatchObject({ passed: true });
      // t is the slowest rank's: no rank's own sample is slower than the case's.
      c.samplesMs.forEach((s, i) => { for (const rk of c.ranks!) expect(s).toBeGreaterThanOrEqual(rk.samplesMs[i]! - 1e-9); });
      const algbw = Number(c.params.bytes) / 1e9 / (c.stats!.medianMs / 1e3);
      expect(c.metrics.algbwGBps).toBeCloseTo(algbw, 12);
      expect(c.metrics.busbwGBps).toBeCloseTo(algbw * (2 * 3) / 4, 12);
      expect(c.timer).toBe('wall-clock');
      // The warm-up rank 0 led reaches the results with the case.
      expect(c.warmup?.iterations).toBeGreaterThan(0);
      // Large cases first warm V8 on a smaller stand-in, and say so.
      if (Number(c.params.bytes) >= JIT_WARMUP_MIN_BYTES) expect(c.warmup?.jitCalls).toBeGreaterThan(0);
      else expect(c.warmup?.jitCalls).toBeUndefined();
    }
    // 4 processes on a host with fewer cores share them: auto takes the linear all-reduce
    // below 64 KiB and the tree below 2 MiB; with cores enough, recursive doubling then the ring from 64 KiB.
    const cpuBound = cpus().length < 4;
    expect(res.run.cluster?.cpuBound).toBe(cpuBound);
    const small = cpuBound ? 'linear' : 'recursive-doubling';
    const middle = cpuBound ? 'tree' : 'ring';
    expect(res.cases[0]!.impl?.kernel).toBe(small);
    expect(res.cases.find((c) => c.params.bytes === 32768)!.impl?.kernel).toBe(small);
    expect(res.cases.find((c) => c.params.bytes === 262144)!.impl?.kernel).toBe(middle);
    expect(res.cases.at(-1)!.impl?.kernel).toBe('ring');
    // Every worker is this install: the same host reduction as this process would use.
    for (const c of res.cases) expect(c.impl?.config?.reduction).toBe(hostReduction());
    const fits = res.collectives!.fits;
    expect(fits.map((f) => f.algorithm).sort()).toEqual([...new Set([small, middle, 'ring'])].sort());
    for (const f of fits) expect(f.alphaUs).toBeGreaterThanOrEqual(0);
  });

  it('runs all-gather, reduce-scatter and broadcast (from root 2), in place, f16/i32, prod/avg on 3 processes', () => {
    const json = join(tmp(), 'r.json');
    const r = gpubench(['run', '--workloads', 'allreduce,allgather,reducescatter,broadcast', '--local-nodes', '3', '-b', '6', '-e', '100K', '-f', '1000',
      '--dtypes', 'f16,i32', '--op', 'prod,avg', '--in-place', '-r', '2', '--json', json, ...FAST], {}, 150_000);
    expect(r.code, r.stderr).toBe(0);
    const res = readResults(json);
    const kinds = new Set(res.cases.map((c) => c.workload));
    expect([...kinds].sort()).toEqual(['allgather', 'allreduce', 'broadcast', 'reducescatter']);
    for (const c of res.cases) expect(c.status, `${c.id}: ${c.reason}`).toBe('ok');
    const ag = res.cases.find((c) => c.workload === 'allgather')!;
    expect(ag.metrics.busbwGBps).toBeCloseTo(ag.metrics.algbwGBps! * (2 / 3), 12);
    const bc = res.cases.find((c) => c.workload === 'broadcast')!;
    expect(bc.metrics.busbwGBps).toBeCloseTo(bc.metrics.algbwGBps!, 12);
    // Gathers and scatters round S to whole per-rank blocks.
    for (const c of res.cases.filter((x) => x.workload === 'allgather' || x.workload === 'reducescatter'))
      expect(Number(c.params.bytes) % (3 * (c.params.dtype === 'f16' ? 2 : 4))).toBe(0);
    for (const c of res.cases) expect(c.id).toMatch(c.workload === 'broadcast' ? /\/inplace\/root2\/r3h1$/ : /\/inplace\/r3h1$/);
    expect(bc.params.root).toBe(2);
  });

  it('without a world, collective cases are skipped with the way to run them', () => {
    const json = join(tmp(), 'r.json');
    const r = gpubench(['run', '--workloads', 'allreduce', '-b', '8', '-e', '8', '--json', json, ...FAST]);
    expect(r.code, r.stderr).toBe(0);
    expect(readResults(json).cases[0]).toMatchObject({ status: 'skipped', reason: expect.stringMatching(/--local-nodes/) });
  });
});

describe('coordinator and workers as separate processes', () => {
  it('cuts off a peer that sends garbage, reports it, and completes the run', async () => {
    const json = join(tmp(), 'r.json');
    const coord = start(['coordinator', '--world-size', '2', '--port', '0', '--token', 'tok', '--workloads', 'allreduce', '-b', '1K', '-e', '64K', '-f', '64', '--json', json, ...FAST]);
    const url = (await coord.waitFor(/listening on (ws:\/\/127\.0\.0\.1:\d+)/))[1]!;
    const fake = (frames: (string | Buffer)[]) =>
      new Promise<number>((resolve) => {
        const ws = new WebSocket(url);
        ws.on('open', () => { for (const f of frames) ws.send(f); });
        ws.on('close', (code) => resolve(code));
        ws.on('error', () => undefined);
      });
    expect(await fake(['{"this is": not json'])).toBe(1002);
    expect(await fake([JSON.stringify({ type: 'hello', protocol: PROTOCOL_VERSION, token: 'wrong', hostname: 'x', pid: 1, dataHost: '127.0.0.1', dataPort: 9, node: {} })])).toBe(1002);
    expect(await fake([JSON.stringify({ type: 'result', index: 0 })])).toBe(1002);
    expect(await fake([Buffer.alloc(5 * 1024 * 1024)])).toBe(1009);
    const workers = [0, 1].map(() => start(['worker', '--coordinator', url], 90_000, { GPUBENCH_TOKEN: 'tok' }));
    expect(await coord.exited, coord.stderr()).toBe(0);
    for (const w of workers) expect(await w.exited, w.stderr()).toBe(0);
    const res = readResults(json);
    expect(res.run.status).toBe('complete');
    for (const c of res.cases) expect(c.status, c.reason).toBe('ok');
    const errors = res.run.cluster!.protocolErrors.map((e) => e.error);
    expect(errors).toEqual(expect.arrayContaining(['not JSON', 'wrong or missing token', 'message too large']));
    expect(errors.some((e) => /before welcome|bad message/.test(e))).toBe(true);
    expect(coord.stderr()).toMatch(/protocol error/);
  });

  it('takes ranks from torchrun-style variables, the coordinator port from GPUBENCH_COORDINATOR_PORT', async () => {
    const json = join(tmp(), 'r.json');
    const coord = start(['coordinator', '--world-size', '2', '--port', '0', '--workloads', 'allreduce', '-b', '4K', '-e', '4K', '--json', json, ...FAST]);
    const port = (await coord.waitFor(/listening on ws:\/\/127\.0\.0\.1:(\d+)/))[1]!;
    // MASTER_PORT is torchrun's own store; GPUBENCH_COORDINATOR_PORT names the coordinator's.
    const env = (rank: number) => ({ RANK: String(rank), WORLD_SIZE: '2', LOCAL_RANK: String(rank), MASTER_ADDR: '127.0.0.1', MASTER_PORT: '1', GPUBENCH_COORDINATOR_PORT: port, GPUBENCH_RANK: '', GPUBENCH_COORDINATOR: '' });
    // Rank 1 joins first: ranks must follow RANK, not arrival order.
    const w1 = start(['worker'], 60_000, env(1));
    await coord.waitFor(/joined \(1\/2\)/);
    const w0 = start(['worker'], 60_000, env(0));
    expect(await coord.exited, coord.stderr()).toBe(0);
    expect(await w0.exited).toBe(0);
    expect(await w1.exited).toBe(0);
    const res = readResults(json);
    expect(res.cases[0]!.status).toBe('ok');
    expect(res.environment.nodes.map((n) => [n.rank, n.launcher, n.pid])).toEqual([[0, 'torchrun', w0.child.pid], [1, 'torchrun', w1.child.pid]]);
  });

  it('a worker that stops sending heartbeats is lost: exit 3 after --heartbeat-timeout', async () => {
    const json = join(tmp(), 'r.json');
    const coord = start(['coordinator', '--world-size', '1', '--port', '0', '--heartbeat-timeout', '1500', '--workloads', 'allreduce', '-b', '8', '-e', '8', '--json', json, ...FAST], 30_000);
    const url = (await coord.waitFor(/listening on (ws:\/\/127\.0\.0\.1:\d+)/))[1]!;
    // A fake worker that joins properly, says ready, then falls silent (a hung process).
    const ws = new WebSocket(url);
    ws.on('open', () => ws.send(JSON.stringify({ type: 'hello', protocol: PROTOCOL_VERSION, hostname: 'fake', pid: 1, dataHost: '127.0.0.1', dataPort: 9, node: {} })));
    ws.on('message', (d) => {
      if ((JSON.parse(String(d)) as { type: string }).type === 'welcome') ws.send(JSON.stringify({ type: 'ready' }));
    });
    ws.on('error', () => undefined);
    const t0 = Date.now();
    expect(await coord.exited).toBe(3);
    expect(Date.now() - t0).toBeLessThan(15_000);
    expect(coord.stderr()).toMatch(/no heartbeat for 1500 ms/);
    expect(readResults(json).run).toMatchObject({ status: 'failed', fault: expect.stringMatching(/heartbeat/) });
    ws.close();
  });

  it('a killed worker is a lost peer: the coordinator exits 3 and the results say failed', async () => {
    const json = join(tmp(), 'r.json');
    const coord = start(['coordinator', '--world-size', '2', '--port', '0', '--workloads', 'allreduce', '-b', '8', '-e', '64MiB', '-f', '2', '--json', json, '--min-time', '300', '--reporter', 'silent']);
    const url = (await coord.waitFor(/listening on (ws:\/\/127\.0\.0\.1:\d+)/))[1]!;
    const workers = [0, 1].map(() => start(['worker', '--coordinator', url]));
    await coord.waitFor(/ready/);
    await new Promise((r) => setTimeout(r, 1500));
    workers[1]!.child.kill('SIGKILL');
    expect(await coord.exited).toBe(3);
    expect(coord.stderr()).toMatch(/lost rank|closed/);
    expect(await workers[0]!.exited).toBe(3);
    const res = readResults(json);
    expect(res.run.status).toBe('failed');
    expect(res.run.fault).toMatch(/rank|closed/);
  });
});

describe('bad usage exits 2 naming the field', () => {
  const cases: [string[], RegExp][] = [
    [['run', '--workloads', 'allreduce', '--local-nodes', '0'], /--local-nodes/],
    [['run', '--workloads', 'allreduce', '--local-nodes', '2', '-b', '12parsecs'], /--min-bytes/],
    [['run', '--workloads', 'allreduce', '--local-nodes', '2', '--op', 'mean'], /--op/],
    [['run', '--workloads', 'allreduce', '--local-nodes', '2', '--algorithm', 'telepathy'], /--algorithm/],
    [['run', '--workloads', 'allreduce', '--local-nodes', '2', '-b', '1M', '-e', '1K'], /--min-bytes/],
    [['run', '--workloads', 'allreduce', '--local-nodes', '2', '--dtypes', 'f128'], /--dtypes/],
    [['coordinator', '--world-size', '2', '--host', '0.0.0.0', '--workloads', 'allreduce'], /--token/],
    [['worker'], /--coordinator/],
    [['worker', '--coordinator', 'http://127.0.0.1:1'], /--coordinator/],
  ];
  it.each(cases)('%j', (args, field) => {
    const r = gpubench(args, { GPUBENCH_TOKEN: '', GPUBENCH_COORDINATOR: '', RANK: '', SLURM_PROCID: '' });
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toMatch(field);
  });
});
