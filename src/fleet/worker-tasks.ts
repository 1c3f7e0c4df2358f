/**
 * The fleet's tasks as a worker runs them: its node's matmul (the harness's own checked,
 * timed case, on the best backend this host has) and its part in one round of pair
 * measurements over the data links it already has. A task never throws: what went wrong
 * is in its answer (`error`), so one bad peer does not take this worker down with it.
 */
import type { Transport } from '../collectives/transport.js';
import type { FleetTask, FleetTaskResult, NodeMatmulResult, PairsResult } from './protocol.js';
import type { PreparedCase } from '../harness/backend.js';

/**
 * Backends for a node's matmul, best first: a GPU through CUDA, a hardware WebGPU adapter,
 * libtensorflow, then plain JavaScript (a software WebGPU adapter measures the CPU through
 * a multi-threaded rasteriser, which says less about a node than one core of JS does).
 */
export const MATMUL_PREFERENCE = ['cuda', 'tfjs-node-gpu', 'webgpu', 'tfjs-webgpu', 'tfjs-node', 'tfjs-cpu'] as const;

/** The matmul size and type for a backend: the `gpu` suite's on a GPU, the default suite's on the CPU stacks. */
export function matmulSizeFor(backend: string): { size: number; dtype: string } {
  if (backend === 'cuda') return { size: 8192, dtype: 'bf16' };
  if (backend === 'tfjs-cpu' || backend === 'tfjs-node') return { size: 256, dtype: 'f32' };
  return { size: 1024, dtype: 'f32' };
}

const message = (err: unknown) => (err instanceof Error ? err.message : String(err));

/** The best available matmul backend here (`auto`), or the one asked for. */
async function pickBackend(asked: string): Promise<string> {
  await import('../kernels/index.js');
  const { probeBackend } = await import('../harness/registry.js');
  if (asked !== 'auto') return asked;
  for (const b of MATMUL_PREFERENCE) {
    const p = await probeBackend(b).catch(() => ({ available: false as const, reason: '' }));
    if (!p.available) continue;
    if ((b === 'webgpu' || b === 'tfjs-webgpu') && p.devices.some((d) => d.software)) continue;
    return b;
  }
  return 'tfjs-cpu';
}

/** The case the last `prepare` set up, kept for the samples that follow. */
let ready: { key: string; backend: string; size: number; dtype: string; device: string; prepared: PreparedCase } | undefined;

/**
 * One node's matmul, a step at a time. `prepare`: planned as `gpubench run` would (the
 * best backend here for `auto`), set up, checked against the reference, warmed up, a few
 * calls timed; `sample`: calls timed back to back for `durationMs`.
 */
export async function nodeMatmul(task: Extract<FleetTask, { kind: 'node-matmul' }>): Promise<NodeMatmulResult> {
  const key = `${task.backend} ${task.size} ${task.dtype ?? ''}`;
  const fail = (backend: string, err: unknown): NodeMatmulResult =>
    ({ kind: 'node-matmul', backend, device: ready?.device ?? '', size: task.size, dtype: task.dtype ?? '', perCallMs: null, error: message(err) });
  if (task.step === 'sample') {
    if (ready?.key !== key) return fail(task.backend, 'sample before prepare');
    try {
      // Calls back to back until the window has passed; per call = the time they took / calls.
      const window = task.durationMs ?? 0;
      let calls = 0;
      let ms = 0;
      do {
        ms += await ready.prepared.time(1);
        calls++;
      } while (ms < window && calls < 1_000_000);
      return { kind: 'node-matmul', backend: ready.backend, device: ready.device, size: ready.size, dtype: ready.dtype, perCallMs: ms / calls };
    } catch (err) {
      return fail(ready.backend, err);
    }
  }
  let backend = task.backend;
  try {
    await ready?.prepared.dispose().catch(() => undefined);
    ready = undefined;
    backend = await pickBackend(task.backend);
    const dflt = matmulSizeFor(backend);
    const size = task.size || dflt.size;
    const dtype = task.dtype ?? dflt.dtype;
    const { planRun } = await import('../harness/plan.js');
    const { getKernel, getWorkload } = await import('../harness/registry.js');
    const { freshSeed } = await import('../harness/random.js');
    const plan = await planRun(
      { schema: 'gpubench.suite/v1', name: 'fleet', workloads: [{ workload: 'matmul', backends: [backend], dtypes: [dtype], sizes: [size] }] } as never,
      { workloads: ['matmul'], backends: [backend], overrides: {} },
    );
    const c = plan.cases[0];
    if (!c) throw new Error(`no matmul case for ${backend}`);
    if (c.skip) throw new Error(`${c.id}: ${c.skip}`);
    const workload = getWorkload<unknown, unknown>(c.workload)!;
    const data = workload.makeData(c.params, freshSeed());
    const prepared = await getKernel<unknown, unknown>(c.workload, backend)!.setup(c.params, data);
    const check = workload.check(c.params, data, await prepared.runChecked());
    if (!check.passed) {
      await prepared.dispose().catch(() => undefined);
      throw new Error(`wrong result: max relative error ${check.maxRelError ?? 'non-finite'} > ${check.tolerance}`);
    }
    // Warm up for warmupMs, then time a few calls for the per-call estimate.
    const until = performance.now() + task.warmupMs;
    let calls = 0;
    do {
      await prepared.time(1);
      calls++;
    } while (performance.now() < until && calls < 10_000);
    const n = Math.max(1, Math.min(calls, 5));
    const perCallMs = (await prepared.time(n)) / n;
    ready = { key, backend, size, dtype, device: prepared.device, prepared };
    return { kind: 'node-matmul', backend, device: prepared.device, size, dtype, perCallMs };
  } catch (err) {
    return fail(backend, err);
  }
}

/**
 * This rank's part in one round of pairs: the lower rank of a pair leads, the higher
 * echoes. Bandwidth: `bytes` there and back per sample (MB/s of both directions over the
 * round trip); latency: half the round trip of 8 bytes. Two untimed exchanges first.
 */
export async function pairRound(t: Transport, task: Extract<FleetTask, { kind: 'pairs' }>): Promise<PairsResult> {
  let peer: number | undefined;
  let lead = false;
  for (let i = 0; i < task.pairs.length; i += 2) {
    if (task.pairs[i] === t.rank) [peer, lead] = [task.pairs[i + 1]!, true];
    else if (task.pairs[i + 1] === t.rank) [peer, lead] = [task.pairs[i]!, false];
  }
  if (peer === undefined) return { kind: 'pairs' };
  const p = peer;
  try {
    const big = new Uint8Array(task.bytes);
    const small = new Uint8Array(8);
    const warm = 2;
    if (!lead) {
      for (let i = 0; i < warm + task.samples; i++) await t.send(p, await t.recvInto(p, big));
      for (let i = 0; i < warm + task.pingSamples; i++) await t.send(p, await t.recvInto(p, small));
      return { kind: 'pairs', peer: p };
    }
    const bandwidthMBps: number[] = [];
    const latencyUs: number[] = [];
    for (let i = 0; i < warm + task.samples; i++) {
      const t0 = performance.now();
      await t.send(p, big);
      await t.recvInto(p, big);
      const ms = performance.now() - t0;
      if (i >= warm) bandwidthMBps.push((2 * task.bytes) / 1e6 / (ms / 1e3));
    }
    for (let i = 0; i < warm + task.pingSamples; i++) {
      const t0 = performance.now();
      await t.send(p, small);
      await t.recvInto(p, small);
      const us = ((performance.now() - t0) * 1e3) / 2;
      if (i >= warm) latencyUs.push(us);
    }
    return { kind: 'pairs', peer: p, bandwidthMBps, latencyUs };
  } catch (err) {
    return { kind: 'pairs', peer: p, error: message(err) };
  }
}

/** Runs one fleet task on this rank. */
export function runFleetTask(t: Transport, task: FleetTask): Promise<FleetTaskResult> {
  return task.kind === 'node-matmul' ? nodeMatmul(task) : pairRound(t, task);
}
