/**
 * Reduce, gather and scatter (rooted) and all-to-all and send/receive (point to point) on
 * the `webgpu-local` backend, on real WebGPU devices (lavapipe where there is no GPU):
 * buffers in GPU memory, blocks staged through host memory, reduce's ⊕ in the WGSL kernel
 * the all-reduce uses, every rank checked against the float64 reference — the root's
 * output, and the untouched input of a reduce's or gather's non-roots.
 *
 * As in collectives-webgpu-local.test.ts, N devices opened from one adapter (each its own
 * GPUDevice, queue and buffers) stand in for N physical adapters.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { webgpuMissing } from './helpers/webgpu.js';
import { gpubench } from './helpers/cli.js';
import { cpuOutputs } from './helpers/cpu-collective.js';
import { getKernel } from '../src/harness/registry.js';
import { freshSeed } from '../src/harness/random.js';
import { REDUCE_OPS } from '../src/collectives/ops.js';
import type { CollectiveDtype } from '../src/collectives/dtypes.js';
import type { DeviceInfo } from '../src/harness/results/schema.js';
import { allocateBuffers, type CollectiveCall } from '../src/collectives/collective.js';
import { prepareRank } from '../src/collectives/reference.js';
import { inProcessGroup } from '../src/collectives/inprocess.js';
import type { CollectiveData, CollectiveParams } from '../src/collectives/workload.js';
import { closeDevices, openSameAdapterDevices, type RankDevice } from '../src/collectives/webgpu/adapters.js';
import { webgpuLocalBackend } from '../src/collectives/webgpu/backend.js';
import { setupLocalCollective } from '../src/collectives/webgpu/local-case.js';
import { GpuRank } from '../src/collectives/webgpu/gpu-rank.js';
import { gpuReduce } from '../src/collectives/webgpu/gpu-tree-reduce.js';

const missing = await webgpuMissing('webgpu-local');
const NEW = ['reduce', 'alltoall', 'gather', 'scatter', 'sendrecv'] as const;
/** Short measurement: the run checks every case, the figures are not the point (70 cases in seconds, not a minute). */
const LIGHT = ['--min-time', '5', '--warmup', '1', '--max-warmup', '5', '-n', '1', '-w', '1'];

const standIns: RankDevice[][] = [];
afterAll(async () => {
  for (const d of standIns) closeDevices(d);
  await webgpuLocalBackend.dispose?.();
});

/** Runs the checked call of `call` on `devices` and expects every rank's check to pass over `checked(rank)` elements. */
async function expectChecked(devices: RankDevice[], call: CollectiveCall, checked: (rank: number) => number): Promise<void> {
  const n = devices.length;
  const data: CollectiveData = { seed: freshSeed() };
  const prepared = await setupLocalCollective(devices, call, data);
  try {
    await prepared.runChecked();
    const label = `${n} ranks ${call.kind} ${call.dtype}${call.kind === 'reduce' ? ` ${call.op}` : ''} ${call.count}${call.root !== undefined ? ` root ${call.root}` : ''}${call.inPlace ? ' in-place' : ''}`;
    expect(data.rankChecks, label).toHaveLength(n);
    for (const [r, chk] of data.rankChecks!.entries()) expect(chk, `${label}: rank ${r}`).toMatchObject({ passed: true, wrong: 0, checked: checked(r) });
  } finally {
    await prepared.dispose();
  }
}

describe.skipIf(missing !== undefined)(`webgpu-local reduce, all-to-all, gather, scatter, send/receive${missing ? ` (skipped: ${missing})` : ''}`, () => {
  it.each([2, 3, 5])('%i ranks: every collective, dtype and op, roots 0 and n−1, in and out of place where NCCL has it, checked on every rank', async (n) => {
    const devices = await openSameAdapterDevices(n);
    standIns.push(devices);
    const dtypes: CollectiveDtype[] = devices.every((d) => d.f16) ? ['f32', 'i32', 'u32', 'f16'] : ['f32', 'i32', 'u32'];
    // Odd per-rank blocks: f16 blocks that start inside a 4-byte word; a small slice so
    // every block moves (and the tree pipelines) in several slices, the last one short.
    const block = 333;
    const chunkBytes = 500;
    for (const dtype of dtypes) {
      for (const root of [0, n - 1])
        for (const inPlace of [false, true]) {
          // Non-roots of reduce and gather: their input, which must be unchanged.
          for (const op of REDUCE_OPS) await expectChecked(devices, { kind: 'reduce', dtype, op, algorithm: 'auto', count: 1001, inPlace, root, chunkBytes }, () => 1001);
          await expectChecked(devices, { kind: 'gather', dtype, op: 'sum', algorithm: 'auto', count: block * n, inPlace, root, chunkBytes }, (r) => (r === root ? block * n : block));
          await expectChecked(devices, { kind: 'scatter', dtype, op: 'sum', algorithm: 'linear', count: block * n, inPlace, root, chunkBytes }, () => block);
        }
      for (const count of [1, block]) await expectChecked(devices, { kind: 'alltoall', dtype, op: 'sum', algorithm: 'auto', count: count * n, inPlace: false, chunkBytes }, () => count * n);
      for (const count of [1, 1001]) await expectChecked(devices, { kind: 'sendrecv', dtype, op: 'sum', algorithm: 'shift', count, inPlace: false, chunkBytes }, () => count);
    }
  });

  it.each([3, 5])('reduce on %i ranks leaves the root with the bits of the CPU tree (f32 and i32; sum, prod, min, max) and every input as it was', async (n) => {
    const devices = await openSameAdapterDevices(n);
    standIns.push(devices);
    for (const dtype of ['f32', 'i32'] as const)
      for (const op of ['sum', 'prod', 'min', 'max'] as const) {
        const root = n - 1;
        const call: CollectiveCall = { kind: 'reduce', dtype, op, algorithm: 'tree', count: 2049, inPlace: false, root, chunkBytes: 4096 };
        const seed = freshSeed();
        const ts = inProcessGroup(n);
        const ranks = devices.map((d, r) => new GpuRank(d, call, n, r));
        const inputs: Uint8Array[] = [];
        try {
          ranks.forEach((g, r) => {
            const host = allocateBuffers(call, n, r);
            prepareRank(call, n, r, seed, host);
            inputs.push(host.input.slice());
            g.upload(g.input, host.input);
            g.upload(g.output, host.output);
          });
          await Promise.all(ranks.map((g, r) => gpuReduce(ts[r]!, g, op, root, call.chunkBytes)));
          const gpu = await ranks[root]!.read(ranks[root]!.output, [0, call.count]);
          const cpu = (await cpuOutputs(n, call, seed))[call.root ?? 0]!;
          expect(Buffer.from(gpu).equals(Buffer.from(cpu)), `${n} ranks ${dtype} ${op}: GPU vs CPU`).toBe(true);
          for (const [r, g] of ranks.entries()) expect(Buffer.from(await g.read(g.input, g.inputRange)).equals(Buffer.from(inputs[r]!)), `rank ${r}'s input`).toBe(true);
        } finally {
          for (const g of ranks) g.destroy();
          for (const t of ts) void t.close();
        }
      }
  });

  it('refuses what NCCL or WGSL has not, with the reason', () => {
    const p = (kind: CollectiveParams['kind'], extra: Partial<CollectiveParams> = {}): CollectiveParams => ({
      kind,
      bytes: 4 * 6,
      count: 6,
      dtype: 'f32',
      op: 'sum',
      algorithm: 'auto',
      inPlace: false,
      ranks: 2,
      nodes: 1,
      chunkBytes: 1 << 20,
      ...extra,
    });
    const sup = (q: CollectiveParams, devices: DeviceInfo[] = []) =>
      getKernel<CollectiveParams, CollectiveData>(q.kind, 'webgpu-local')!.supports!(q, devices);
    for (const kind of NEW) {
      expect(sup(p(kind)), kind).toBeUndefined();
      expect(sup(p(kind, { dtype: 'bf16' }))).toMatch(/bf16/);
      expect(sup(p(kind, { dtype: 'i64' }))).toMatch(/64-bit integer/);
      expect(sup(p(kind, { algorithm: 'ring' }))).toMatch(/"ring" is not implemented on local adapters/);
      expect(sup(p(kind, { dtype: 'f16' }), [{ backend: 'webgpu-local', id: 'x', name: 'x', features: [] }])).toMatch(/shader-f16/);
      expect(sup(p(kind, { bytes: 1 << 28 }), [{ backend: 'webgpu-local', id: 'x', name: 'x', limits: { maxStorageBufferBindingSize: 1 << 27 } }])).toMatch(/largest storage buffer/);
    }
    for (const kind of ['reduce', 'gather', 'scatter'] as const) {
      expect(sup(p(kind, { root: 1 }))).toBeUndefined();
      expect(sup(p(kind, { root: 2 }))).toMatch(/root 2 is not one of the 2 ranks/);
      expect(sup(p(kind, { inPlace: true }))).toBeUndefined();
    }
    for (const kind of ['alltoall', 'sendrecv'] as const) expect(sup(p(kind, { inPlace: true }))).toMatch(/no in-place/);
  });

  it('refuses a call it cannot run before touching a GPU', async () => {
    const devices = await openSameAdapterDevices(2);
    standIns.push(devices);
    const base = { dtype: 'f32', op: 'sum', algorithm: 'auto', count: 6, inPlace: false, chunkBytes: 1 << 20 } as const;
    await expect(setupLocalCollective(devices, { ...base, kind: 'alltoall', inPlace: true }, { seed: 1 })).rejects.toThrow(/no in-place all-to-all/);
    await expect(setupLocalCollective(devices, { ...base, kind: 'gather', count: 7 }, { seed: 1 })).rejects.toThrow(/do not split into 2 equal blocks/);
    await expect(setupLocalCollective(devices, { ...base, kind: 'reduce', root: 2 }, { seed: 1 })).rejects.toThrow(/root 2 is not one of 2 ranks/);
    await expect(setupLocalCollective(devices, { ...base, kind: 'scatter', algorithm: 'tree' }, { seed: 1 })).rejects.toThrow(/use auto, linear/);
  });

  it('runs `gpubench run --workloads reduce,alltoall,gather,scatter,sendrecv --backends webgpu-local -b 8 -e 64KiB` to ok, checked cases', () => {
    const dir = mkdtempSync(join(tmpdir(), 'gpubench-local-'));
    try {
      const json = join(dir, 'r.json');
      const r = gpubench(['run', '--workloads', NEW.join(','), '--backends', 'webgpu-local', '-b', '8', '-e', '64KiB', '--json', json, ...LIGHT]);
      expect(r.code, r.stderr).toBe(0);
      const res = JSON.parse(readFileSync(json, 'utf8')) as { cases: { id: string; status: string; reason?: string; check?: { passed: boolean; wrong: number } }[] };
      for (const kind of NEW) expect(res.cases.some((c) => c.id.startsWith(`${kind}/webgpu-local/`) && c.status === 'ok'), kind).toBe(true);
      for (const c of res.cases) {
        // alltoall and sendrecv have no in-place form: those cases are skipped with the reason.
        if (c.status === 'skipped') {
          expect(c.reason, c.id).toMatch(/no in-place/);
          continue;
        }
        expect(c.status, `${c.id}: ${c.reason}`).toBe('ok');
        expect(c.check, c.id).toMatchObject({ passed: true, wrong: 0 });
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

