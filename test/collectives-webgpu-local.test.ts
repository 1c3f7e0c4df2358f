/**
 * The `webgpu-local` backend on real WebGPU devices (lavapipe where there is no GPU):
 * local adapters as ranks of one process, buffers in GPU memory, slices staged through
 * host memory, reduction in WGSL on the receiving GPU, every rank checked against the
 * float64 reference on fresh random data.
 *
 * A machine with one adapter runs one rank; the multi-rank path is exercised by N
 * devices opened from the SAME adapter — each its own GPUDevice with its own queue and
 * buffers, so staging and the WGSL reduction across ranks are real — as a stand-in for
 * N physical adapters.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { webgpuMissing } from './helpers/webgpu.js';
import { getKernel, probeBackend } from '../src/harness/registry.js';
import { runCase } from '../src/harness/runner.js';
import { DEFAULT_MEASURE, type MeasureOptions } from '../src/harness/measure.js';
import type { PlannedCase } from '../src/harness/plan.js';
import { listAll } from '../src/harness/cli/commands/list.js';
import { freshSeed } from '../src/harness/random.js';
import { REDUCE_OPS } from '../src/collectives/ops.js';
import type { CollectiveDtype } from '../src/collectives/dtypes.js';
import type { CollectiveCall } from '../src/collectives/collective.js';
import type { CollectiveData, CollectiveParams } from '../src/collectives/workload.js';
import { withWorld } from './helpers/world.js';
import { closeDevices, openSameAdapterDevices, parseAdapterList, type RankDevice } from '../src/collectives/webgpu/adapters.js';
import { localAdapters, webgpuLocalBackend } from '../src/collectives/webgpu/backend.js';
import { setupLocalAllReduce, setupLocalCollective } from '../src/collectives/webgpu/local-case.js';
import { gpubench } from './helpers/cli.js';
import { cpuOutputs } from './helpers/cpu-collective.js';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { allocateBuffers } from '../src/collectives/collective.js';
import { checkOutput, prepareRank } from '../src/collectives/reference.js';
import { inProcessGroup } from '../src/collectives/inprocess.js';
import { GpuRank } from '../src/collectives/webgpu/gpu-rank.js';
import { gpuAllReduce } from '../src/collectives/webgpu/gpu-allreduce.js';

const missing = await webgpuMissing('webgpu-local');
const FAST: MeasureOptions = { ...DEFAULT_MEASURE, minTimeMs: 5, warmupMs: 1, minSamples: 3, maxSamples: 3, minSampleMs: 2 };

const standIns: RankDevice[][] = [];
afterAll(async () => {
  for (const d of standIns) closeDevices(d);
  await webgpuLocalBackend.dispose?.();
});

describe('adapter list', () => {
  it('parses the adapters Dawn names when asked for one that does not exist', () => {
    const msg = "no suitable backends found\nAvailable adapters:\n * backend: 'vulkan', name: 'NVIDIA H100 80GB HBM3'\n * backend: 'vulkan', name: 'llvmpipe (LLVM 15.0.6, 256 bits)'";
    expect(parseAdapterList(msg)).toEqual([
      { backend: 'vulkan', name: 'NVIDIA H100 80GB HBM3' },
      { backend: 'vulkan', name: 'llvmpipe (LLVM 15.0.6, 256 bits)' },
    ]);
  });

  it('stands aside in a multi-process run', async () => {
    await withWorld(4, async () =>
      expect(await webgpuLocalBackend.probe()).toMatchObject({ available: false, reason: expect.stringMatching(/--local-nodes/) }),
    );
  });
});

describe.skipIf(missing !== undefined)(`webgpu-local on this machine${missing ? ` (skipped: ${missing})` : ''}`, () => {
  it('runs one rank per distinct adapter and says so in list and in the case', async () => {
    const probe = await probeBackend('webgpu-local');
    expect(probe.available, probe.available ? '' : probe.reason).toBe(true);
    const ranks = (await localAdapters()).adapters;
    expect(ranks.length).toBeGreaterThanOrEqual(1);
    const listing = (await listAll()).find((b) => b.id === 'webgpu-local')!;
    expect(listing.devices).toHaveLength(ranks.length);
    if (ranks.length === 1) expect(listing.notes.join('\n')).toMatch(/one adapter, so one rank/);

    const n = ranks.length;
    const params: CollectiveParams = { kind: 'allreduce', bytes: 4 * 3001 * n, count: 3001 * n, dtype: 'f32', op: 'sum', algorithm: 'auto', inPlace: false, ranks: n, nodes: 1, chunkBytes: 1 << 20 };
    expect(getKernel('allreduce', 'webgpu-local')!.supports!(params as never, probe.available ? probe.devices : [])).toBeUndefined();
    const c: PlannedCase = { id: 'allreduce/webgpu-local/f32/sum/auto/x', workload: 'allreduce', backend: 'webgpu-local', params };
    const res = await runCase(c, { measure: FAST, reporters: [], argv: [] });
    expect(res.status, res.reason).toBe('ok');
    expect(res.check).toMatchObject({ passed: true, wrong: 0, checked: params.count * n });
    expect(res.timer).toBe('wall-clock');
    expect(res.device).toMatch(new RegExp(`^${n} ranks?:`));
    expect(res.metrics.algbwGBps).toBeGreaterThan(0);
    // nccl-tests' busbw factor 2(n−1)/n: 0 for one rank, reported as such.
    expect(res.metrics.busbwGBps).toBeCloseTo(res.metrics.algbwGBps! * ((2 * (n - 1)) / n), 12);
    if (n === 1) expect(res.impl?.notes?.join('\n')).toMatch(/one rank/);
  });

  it('skips what WGSL cannot do, with the reason', () => {
    const k = getKernel<CollectiveParams, CollectiveData>('allreduce', 'webgpu-local')!;
    const p: CollectiveParams = { kind: 'allreduce', bytes: 8, count: 4, dtype: 'bf16', op: 'sum', algorithm: 'auto', inPlace: false, ranks: 1, nodes: 1, chunkBytes: 1 << 20 };
    expect(k.supports!(p, [])).toMatch(/bf16/);
    expect(k.supports!({ ...p, dtype: 'f32', algorithm: 'recursive-doubling' }, [])).toBeUndefined();
    expect(k.supports!({ ...p, dtype: 'u32' }, [])).toBeUndefined();
    for (const [dtype, what] of [['i8', '8-bit integer'], ['u64', '64-bit integer'], ['f64', 'f64'], ['fp8e4m3', 'fp8']] as const)
      expect(k.supports!({ ...p, dtype }, [])).toBe(`WGSL has no ${what} type (f32, f16, i32, u32 run on local adapters)`);
    expect(k.supports!({ ...p, dtype: 'f32', algorithm: 'tree' }, [])).toMatch(/"tree" is not implemented/);
    expect(k.supports!({ ...p, dtype: 'f16' }, [{ backend: 'webgpu-local', id: 'x', name: 'x', features: [] }])).toMatch(/shader-f16/);
    expect(k.supports!({ ...p, dtype: 'f32', bytes: 1 << 30 }, [{ backend: 'webgpu-local', id: 'x', name: 'x', limits: { maxStorageBufferBindingSize: 1 << 27 } }])).toMatch(/largest storage buffer/);
    const bc = getKernel<CollectiveParams, CollectiveData>('broadcast', 'webgpu-local')!;
    expect(bc.supports!({ ...p, kind: 'broadcast', dtype: 'f32', root: 1 }, [])).toMatch(/root 1 is not one of the 1 ranks/);
    expect(bc.supports!({ ...p, kind: 'broadcast', dtype: 'f32', root: 0 }, [])).toBeUndefined();
  });

  it.each([2, 3])('%i ranks on as many devices of one adapter (stand-in for physical adapters): every op and dtype, ring, one-shot and recursive doubling, checked on every rank', async (n) => {
    const devices = await openSameAdapterDevices(n);
    standIns.push(devices);
    expect(new Set(devices.map((d) => d.device)).size).toBe(n);
    const dtypes: CollectiveDtype[] = devices.every((d) => d.f16) ? ['f32', 'i32', 'u32', 'f16'] : ['f32', 'i32', 'u32'];
    let i = 0;
    for (const dtype of dtypes)
      for (const op of REDUCE_OPS)
        for (const algorithm of ['ring', 'one-shot', 'recursive-doubling'])
          // Odd counts: uneven segments, f16 slices that start inside a 4-byte word, empty segments.
          for (const count of [2, 10_001]) {
            const call: CollectiveCall = { kind: 'allreduce', dtype, op, algorithm, count, inPlace: i++ % 2 === 1 };
            const data: CollectiveData = { seed: freshSeed() };
            const prepared = await setupLocalAllReduce(devices, call, data);
            try {
              await prepared.runChecked();
              const label = `${n} ranks ${dtype} ${op} ${algorithm} ${count}${call.inPlace ? ' in-place' : ''}`;
              expect(data.rankChecks, label).toHaveLength(n);
              for (const [r, chk] of data.rankChecks!.entries()) expect(chk, `${label}: rank ${r}`).toMatchObject({ passed: true, wrong: 0, checked: count });
            } finally {
              await prepared.dispose();
            }
          }
  });

  it.each([2, 3])('%i ranks on as many devices of one adapter: all-gather, reduce-scatter (sum, avg, max) and broadcast (roots 0 and n−1), in and out of place, odd blocks, checked on every rank', async (n) => {
    const devices = await openSameAdapterDevices(n);
    standIns.push(devices);
    const dtypes: CollectiveDtype[] = devices.every((d) => d.f16) ? ['f32', 'i32', 'u32', 'f16'] : ['f32', 'i32', 'u32'];
    const calls: CollectiveCall[] = [];
    for (const dtype of dtypes)
      for (const inPlace of [false, true]) {
        // Odd per-rank blocks: f16 blocks that start inside a 4-byte word, one-element blocks.
        for (const block of [1, 3333]) {
          calls.push({ kind: 'allgather', dtype, op: 'sum', algorithm: 'ring', count: block * n, inPlace });
          for (const op of ['sum', 'avg', 'max'] as const) calls.push({ kind: 'reducescatter', dtype, op, algorithm: 'auto', count: block * n, inPlace });
        }
        // A small pipelining slice: several slices down the chain, the last one odd.
        for (const root of [0, n - 1]) for (const count of [1, 10_001]) calls.push({ kind: 'broadcast', dtype, op: 'sum', algorithm: 'chain', count, inPlace, root, chunkBytes: 1000 });
      }
    for (const call of calls) {
      const data: CollectiveData = { seed: freshSeed() };
      const prepared = await setupLocalCollective(devices, call, data);
      try {
        await prepared.runChecked();
        const label = `${n} ranks ${call.kind} ${call.dtype} ${call.op} ${call.count}${call.root ? ` root ${call.root}` : ''}${call.inPlace ? ' in-place' : ''}`;
        const checked = call.kind === 'reducescatter' ? call.count / n : call.count;
        expect(data.rankChecks, label).toHaveLength(n);
        for (const [r, chk] of data.rankChecks!.entries()) expect(chk, `${label}: rank ${r}`).toMatchObject({ passed: true, wrong: 0, checked });
      } finally {
        await prepared.dispose();
      }
    }
  });

  it.each([2, 3, 5])('recursive doubling on %i devices of one adapter (3 and 5: ranks folded in) leaves identical bits on every rank, those of the CPU algorithm for f32 and i32', async (n) => {
    const devices = await openSameAdapterDevices(n);
    standIns.push(devices);
    const dtypes: CollectiveDtype[] = devices.every((d) => d.f16) ? ['f32', 'i32', 'u32', 'f16'] : ['f32', 'i32', 'u32'];
    for (const dtype of dtypes)
      for (const op of ['sum', 'avg', 'max'] as const)
        for (const inPlace of [false, true]) {
          const call: CollectiveCall = { kind: 'allreduce', dtype, op, algorithm: 'recursive-doubling', count: 4099, inPlace };
          const label = `${n} ranks ${dtype} ${op}${inPlace ? ' in-place' : ''}`;
          const seed = freshSeed();
          const outs = await gpuOutputs(devices, call, seed);
          for (let r = 1; r < n; r++) expect(Buffer.from(outs[r]!).equals(Buffer.from(outs[0]!)), `${label}: rank ${r} vs rank 0`).toBe(true);
          // The CPU runs the same steps in the same operand order; + and max round
          // exactly in WGSL (avg's division may differ by an ulp, f16 by double rounding).
          if (dtype !== 'f16' && op !== 'avg') {
            const cpu = await cpuOutputs(n, call, seed);
            for (let r = 0; r < n; r++) expect(Buffer.from(outs[r]!).equals(Buffer.from(cpu[r]!)), `${label}: rank ${r} vs the CPU`).toBe(true);
          }
          for (let r = 0; r < n; r++) expect(checkOutput(call, n, r, seed, outs[r]!), `${label}: rank ${r}`).toMatchObject({ passed: true, wrong: 0 });
        }
  });

  it('skips the other collectives where WGSL or the adapter cannot run them, with the reason', () => {
    for (const kind of ['allgather', 'reducescatter', 'broadcast'] as const) {
      const k = getKernel<CollectiveParams, CollectiveData>(kind, 'webgpu-local')!;
      const p: CollectiveParams = { kind, bytes: 8, count: 4, dtype: 'f32', op: 'sum', algorithm: 'auto', inPlace: false, ranks: 1, nodes: 1, chunkBytes: 1 << 20 };
      expect(k.supports!(p, [])).toBeUndefined();
      expect(k.supports!({ ...p, dtype: 'bf16' }, [])).toMatch(/bf16/);
      expect(k.supports!({ ...p, algorithm: 'tree' }, [])).toMatch(/"tree" is not implemented/);
      expect(k.supports!({ ...p, dtype: 'f16' }, [{ backend: 'webgpu-local', id: 'x', name: 'x', features: [] }])).toMatch(/shader-f16/);
      // S is the gathered output / the scattered input: it must fit one storage binding.
      expect(k.supports!({ ...p, bytes: 1 << 28 }, [{ backend: 'webgpu-local', id: 'x', name: 'x', limits: { maxStorageBufferBindingSize: 1 << 27 } }])).toMatch(/largest storage buffer/);
    }
  });

  it('runs `gpubench run --workloads allgather,reducescatter,broadcast --backends webgpu-local` to ok, checked cases', () => {
    const json = join(mkdtempSync(join(tmpdir(), 'gpubench-local-')), 'r.json');
    const r = gpubench(['run', '--workloads', 'allgather,reducescatter,broadcast', '--backends', 'webgpu-local', '-b', '8', '-e', '64KiB', '--json', json, '--min-time', '20']);
    expect(r.code, r.stderr).toBe(0);
    const res = JSON.parse(readFileSync(json, 'utf8')) as { cases: { id: string; status: string; reason?: string; check?: { passed: boolean; wrong: number } }[] };
    for (const kind of ['allgather', 'reducescatter', 'broadcast']) expect(res.cases.some((c) => c.id.startsWith(`${kind}/webgpu-local/`)), kind).toBe(true);
    for (const c of res.cases) {
      expect(c.status, `${c.id}: ${c.reason}`).toBe('ok');
      expect(c.check, c.id).toMatchObject({ passed: true, wrong: 0 });
    }
  });

  it('times whole calls of every rank, staging included', async () => {
    const devices = await openSameAdapterDevices(2);
    standIns.push(devices);
    const prepared = await setupLocalAllReduce(devices, { kind: 'allreduce', dtype: 'f32', op: 'sum', algorithm: 'ring', count: 1 << 16, inPlace: false }, { seed: freshSeed() });
    try {
      expect(prepared.timer).toBe('wall-clock');
      expect(prepared.device).toMatch(/^2 ranks: .* ×2$/);
      await prepared.runChecked();
      expect(await prepared.time(3)).toBeGreaterThan(0);
    } finally {
      await prepared.dispose();
    }
  });
});

/** Every rank's all-reduce output bytes after one call on GPU ranks of `devices`. */
async function gpuOutputs(devices: RankDevice[], c: CollectiveCall, seed: number): Promise<Uint8Array[]> {
  const n = devices.length;
  const ts = inProcessGroup(n);
  const ranks = devices.map((d, r) => new GpuRank(d, c, n, r));
  try {
    ranks.forEach((g, r) => {
      const host = allocateBuffers(c, n, r);
      prepareRank(c, n, r, seed, host);
      g.upload(g.input, host.input);
      if (!c.inPlace) g.upload(g.output, host.output);
    });
    await Promise.all(ranks.map((g, r) => gpuAllReduce(ts[r]!, g, c.op, 'recursive-doubling')));
    const out: Uint8Array[] = [];
    for (const g of ranks) out.push(await g.read(g.output, g.outputRange));
    return out;
  } finally {
    for (const g of ranks) g.destroy();
    for (const t of ts) void t.close();
  }
}

