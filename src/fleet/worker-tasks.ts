/**
 * The fleet's tasks as a worker runs them: its node's matmul (the harness's own checked,
 * timed case, on the best backend this host has) and its part in one round of pair
 * measurements over the data links it already has. A task never throws: what went wrong
 * is in its answer (`error`), so one bad peer does not take this worker down with it.
 */
import type { Transport } from '../collectives/transport.js';
import { DEFAULT_MEASURE, type MeasureOptions } from '../harness/measure.js';
import type { FleetTask, FleetTaskResult, NodeMatmulResult, PairsResult } from './protocol.js';

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

/** One node's matmul: planned, checked and timed as `gpubench run` would. */
export async function nodeMatmul(task: Extract<FleetTask, { kind: 'node-matmul' }>): Promise<NodeMatmulResult> {
  let backend = task.backend;
  try {
    backend = await pickBackend(task.backend);
    const dflt = matmulSizeFor(backend);
    const size = task.size || dflt.size;
    const dtype = task.dtype ?? dflt.dtype;
    const { planRun } = await import('../harness/plan.js');
    const { runCase } = await import('../harness/runner.js');
    const plan = await planRun(
      { schema: 'gpubench.suite/v1', name: 'fleet', workloads: [{ workload: 'matmul', backends: [backend], dtypes: [dtype], sizes: [size] }] } as never,
      { workloads: ['matmul'], backends: [backend], overrides: {} },
    );
    const c = plan.cases[0];
    if (!c) throw new Error(`no matmul case for ${backend}`);
    if (c.skip) throw new Error(`${c.id}: ${c.skip}`);
    // Samples of at least 250 ms span two CFS periods (100 ms): a CPU quota shows in every
    // sample, not only in those that happen to cross a period's end.
    const measure: MeasureOptions = {
      ...DEFAULT_MEASURE,
      warmupMs: task.warmupMs,
      maxWarmupMs: task.warmupMs * 3,
      minTimeMs: task.minTimeMs,
      minSamples: task.maxSamples,
      maxSamples: task.maxSamples,
      minSampleMs: 250,
      maxTimeMs: Math.max(10 * task.minTimeMs, 60_000),
    };
    const r = await runCase(c, { measure, reporters: [], argv: [] });
    const out: NodeMatmulResult = { kind: 'node-matmul', backend, device: r.device, size, dtype, samplesMs: r.samplesMs, tflops: r.metrics.tflops ?? null };
    if (r.status !== 'ok') out.error = r.reason ?? r.status;
    return out;
  } catch (err) {
    return { kind: 'node-matmul', backend, device: '', size: task.size, dtype: task.dtype ?? '', samplesMs: [], tflops: null, error: message(err) };
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
