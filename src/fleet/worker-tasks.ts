/**
 * The fleet's tasks as a worker runs them: its node's matmul and device copy (the harness's
 * own checked, timed cases, on the best backend this host has, with the device's
 * telemetry), its part in one round of pair measurements over the data links it already
 * has, and its part in ring all-reduces over groups of ranks (group-allreduce.ts). A task never throws: what went wrong
 * is in its answer (`error`), so one bad peer does not take this worker down with it.
 */
import type { Transport } from '../collectives/transport.js';
import type { FleetTask, FleetTaskResult, NodeCaseResult, PairsResult } from './protocol.js';
import type { PreparedCase } from '../harness/backend.js';
import { groupAllReduce } from './group-allreduce.js';

/**
 * Backends for a node's matmul, best first: a GPU through CUDA, a hardware WebGPU adapter,
 * libtensorflow, then plain JavaScript (a software WebGPU adapter measures the CPU through
 * a multi-threaded rasteriser, which says less about a node than one core of JS does).
 */
export const MATMUL_PREFERENCE = ['cuda', 'tfjs-node-gpu', 'webgpu', 'tfjs-webgpu', 'tfjs-node', 'tfjs-cpu'] as const;

/**
 * The case size for a backend: matmul m = n = k and type (the `gpu` suite's on a GPU, the
 * default suite's on the CPU stacks); memcpy bytes (the suite's 256 MiB on a hardware
 * device, 16 MiB on a software adapter, whose "device" memory is the host's, shared by
 * every rank on it).
 */
export function caseSizeFor(workload: 'matmul' | 'memcpy', backend: string, software = false): { size: number; dtype: string } {
  if (workload === 'memcpy') return { size: software ? 16 * 2 ** 20 : 256 * 2 ** 20, dtype: 'u8' };
  if (backend === 'cuda') return { size: 8192, dtype: 'bf16' };
  if (backend === 'tfjs-cpu' || backend === 'tfjs-node') return { size: 256, dtype: 'f32' };
  return { size: 1024, dtype: 'f32' };
}

/** The matmul size and type for a backend (`caseSizeFor` of the matmul). */
export const matmulSizeFor = (backend: string): { size: number; dtype: string } => caseSizeFor('matmul', backend);

const message = (err: unknown) => (err instanceof Error ? err.message : String(err));

/** The backend this rank's matmul ran on: the copy runs there too where it can (same device, same telemetry). */
let matmulBackend: string | undefined;

/**
 * The backend for a workload here (`auto`), or the one asked for, and whether its device
 * is a software one; or why none can run it. matmul: `MATMUL_PREFERENCE`, hardware only
 * for the WebGPU stacks. memcpy: every registered backend with a memcpy kernel (the
 * registry's, none named here), the matmul's first, then by priority, hardware before
 * software.
 */
async function pickBackend(workload: 'matmul' | 'memcpy', asked: string): Promise<{ backend: string; software: boolean } | { unavailable: string }> {
  await import('../kernels/index.js');
  const { probeBackend, listBackends, getKernel } = await import('../harness/registry.js');
  const probe = (b: string) => probeBackend(b).catch((err: unknown) => ({ available: false as const, reason: message(err), devices: undefined }));
  if (asked !== 'auto') {
    const p = await probe(asked);
    return { backend: asked, software: p.available && p.devices.some((d) => d.software === true) };
  }
  if (workload === 'matmul') {
    for (const b of MATMUL_PREFERENCE) {
      const p = await probe(b);
      if (!p.available) continue;
      if ((b === 'webgpu' || b === 'tfjs-webgpu') && p.devices.some((d) => d.software)) continue;
      return { backend: b, software: p.devices.some((d) => d.software === true) };
    }
    return { backend: 'tfjs-cpu', software: true };
  }
  const ids = listBackends().map((b) => b.id).filter((id) => getKernel(workload, id));
  const order = matmulBackend && ids.includes(matmulBackend) ? [matmulBackend, ...ids.filter((id) => id !== matmulBackend)] : ids;
  const why: string[] = [];
  let soft: string | undefined;
  for (const b of order) {
    const p = await probe(b);
    if (!p.available) {
      why.push(`${b}: ${p.reason}`);
      continue;
    }
    if (p.devices.some((d) => d.software)) soft ??= b;
    else return { backend: b, software: false };
  }
  if (soft) return { backend: soft, software: true };
  return { unavailable: `no backend here runs ${workload}${why.length ? ` (${why.join('; ')})` : ''}` };
}

/** Why a prepared case reports no telemetry: the backend's own probe note where it has one. */
async function noTelemetryReason(backend: string, hasReader: boolean): Promise<string> {
  const { probeBackend } = await import('../harness/registry.js');
  const p = await probeBackend(backend);
  const note = p.available ? p.notes?.find((n) => n.startsWith('no telemetry:')) : undefined;
  if (note) return note.slice('no telemetry:'.length).trim();
  return hasReader ? 'no telemetry samples over the timed calls' : `the ${backend} backend reads no device telemetry`;
}

/** The case the last `prepare` set up, kept for the samples that follow. */
let ready: { key: string; workload: 'matmul' | 'memcpy'; backend: string; size: number; dtype: string; device: string; prepared: PreparedCase } | undefined;

/**
 * One node's case (matmul or memcpy), a step at a time. `prepare`: planned as `gpubench
 * run` would (the best backend here for `auto`), set up, checked against the reference,
 * warmed up, a few calls timed; `sample`: calls timed back to back for `durationMs`, with
 * the device's telemetry so far (or why there is none).
 */
export async function nodeCase(task: Extract<FleetTask, { kind: 'node-case' }>): Promise<NodeCaseResult> {
  const key = `${task.workload} ${task.backend} ${task.size} ${task.dtype ?? ''}`;
  const base = { kind: 'node-case' as const, workload: task.workload };
  const fail = (backend: string, err: unknown): NodeCaseResult =>
    ({ ...base, backend, device: ready?.device ?? '', size: task.size, dtype: task.dtype ?? '', perCallMs: null, error: message(err) });
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
      const telemetry = ready.prepared.telemetry?.();
      return {
        ...base, backend: ready.backend, device: ready.device, size: ready.size, dtype: ready.dtype, perCallMs: ms / calls,
        ...(telemetry ? { telemetry } : { noTelemetry: await noTelemetryReason(ready.backend, ready.prepared.telemetry !== undefined) }),
      };
    } catch (err) {
      return fail(ready.backend, err);
    }
  }
  let backend = task.backend;
  try {
    await ready?.prepared.dispose().catch(() => undefined);
    ready = undefined;
    const picked = await pickBackend(task.workload, task.backend);
    if ('unavailable' in picked) return { ...base, backend, device: '', size: task.size, dtype: '', perCallMs: null, unavailable: picked.unavailable };
    backend = picked.backend;
    if (task.workload === 'matmul') matmulBackend = backend;
    const dflt = caseSizeFor(task.workload, backend, picked.software);
    const size = task.size || dflt.size;
    const dtype = task.workload === 'matmul' ? (task.dtype ?? dflt.dtype) : dflt.dtype;
    const { planRun } = await import('../harness/plan.js');
    const { getKernel, getWorkload } = await import('../harness/registry.js');
    const { freshSeed } = await import('../harness/random.js');
    const entry = task.workload === 'matmul' ? { workload: 'matmul', backends: [backend], dtypes: [dtype], sizes: [size] } : { workload: 'memcpy', backends: [backend], sizes: [size] };
    const plan = await planRun({ schema: 'gpubench.suite/v1', name: 'fleet', workloads: [entry] } as never, { workloads: [task.workload], backends: [backend], overrides: {} });
    const c = plan.cases[0];
    if (!c) throw new Error(`no ${task.workload} case for ${backend}`);
    if (c.skip) throw new Error(`${c.id}: ${c.skip}`);
    const workload = getWorkload<unknown, unknown>(c.workload)!;
    const data = workload.makeData(c.params, freshSeed());
    const prepared = await getKernel<unknown, unknown>(c.workload, backend)!.setup(c.params, data);
    const check = workload.check(c.params, data, await prepared.runChecked());
    if (!check.passed) {
      await prepared.dispose().catch(() => undefined);
      throw new Error(`wrong result: ${check.wrong ? `${check.wrong} wrong elements, ` : ''}max relative error ${check.maxRelError ?? 'non-finite'} > ${check.tolerance}`);
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
    ready = { key, workload: task.workload, backend, size, dtype, device: prepared.device, prepared };
    return { ...base, backend, device: prepared.device, size, dtype, perCallMs };
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
  if (task.kind === 'node-case') return nodeCase(task);
  if (task.kind === 'pairs') return pairRound(t, task);
  return groupAllReduce(t, task);
}
