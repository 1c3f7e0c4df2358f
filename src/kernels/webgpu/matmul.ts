/**
 * matmul on the `webgpu` backend: the naive kernel, the tiled kernel with a fixed tile,
 * or (`auto`) the tiled kernel with the autotuned tile.
 */
import type { KernelConfig, PreparedCase, SetupHooks } from '../../harness/backend.js';
import type { DeviceInfo, Impl } from '../../harness/results/schema.js';
import type { MatmulData, MatmulParams } from '../matmul/workload.js';
import { cachedTile, feasibleCandidates, searchTiles, storeTile, tuneKey } from './autotune.js';
import type { DawnContext } from './dawn.js';
import { GemmBuffers, compilePipeline, type GemmPipeline, type GemmShape } from './gemm.js';
import { webgpuContext } from './context.js';
import { NAIVE_WG, naiveMatmulWgsl } from './wgsl/naive.js';
import { tileExtent, tileName, tiledMatmulWgsl, type TileConfig, type WgslDtype } from './wgsl/tiled.js';

/** Kernel variants this backend runs. */
export const WEBGPU_MATMUL_KERNELS = ['auto', 'tiled', 'naive'] as const;

// Compiled pipelines, reused across cases of one run.
const pipelines = new Map<string, Promise<GPUComputePipeline>>();

function pipelineFor(ctx: DawnContext, key: string, code: () => string): Promise<GPUComputePipeline> {
  let p = pipelines.get(key);
  if (!p) {
    p = compilePipeline(ctx, code(), key);
    pipelines.set(key, p);
    p.catch(() => pipelines.delete(key));
  }
  return p;
}

async function tiledPipeline(ctx: DawnContext, tile: TileConfig, dtype: WgslDtype, vec4: boolean, s: GemmShape): Promise<GemmPipeline> {
  const key = `tiled-${tileName(tile)}-${dtype}-${vec4 ? 'vec4' : 'scalar'}`;
  const pipeline = await pipelineFor(ctx, key, () => tiledMatmulWgsl(tile, dtype, vec4));
  const { bm, bn } = tileExtent(tile);
  return { pipeline, workgroups: [Math.ceil(s.n / bn), Math.ceil(s.m / bm), s.batch] };
}

async function naivePipeline(ctx: DawnContext, dtype: WgslDtype, s: GemmShape): Promise<GemmPipeline> {
  const pipeline = await pipelineFor(ctx, `naive-${dtype}`, () => naiveMatmulWgsl(dtype));
  return { pipeline, workgroups: [Math.ceil(s.n / NAIVE_WG), Math.ceil(s.m / NAIVE_WG), s.batch] };
}

/** Picks the tile for `auto`: from the cache, else by timing the candidates on this case's buffers. */
async function autotuned(ctx: DawnContext, g: GemmBuffers, dtype: WgslDtype, vec4: boolean, hooks?: SetupHooks): Promise<{ p: GemmPipeline; impl: Impl }> {
  const s = g.shape;
  const limits = ctx.device.limits;
  const candidates = feasibleCandidates(limits);
  const key = tuneKey(`${ctx.info.vendor}/${ctx.info.name}`, dtype, vec4, s.m, s.n, s.k);
  const kernelName = (t: TileConfig) => `tiled-${tileName(t)}${vec4 ? '-vec4' : ''}`;
  const fixed = process.env.GPUBENCH_AUTOTUNE === 'off';
  const hit = fixed ? candidates[0] : cachedTile(key, limits);
  if (hit) {
    return {
      p: await tiledPipeline(ctx, hit, dtype, vec4, s),
      impl: { kernel: kernelName(hit), config: { ...hit }, autotune: { source: fixed ? 'fixed' : 'cache', candidates: 0, key } },
    };
  }
  hooks?.phase?.('autotune');
  const best = await searchTiles(
    candidates,
    (t) => tiledPipeline(ctx, t, dtype, vec4, s),
    (p) => g.time(p, 1),
  );
  storeTile(key, best.tile, best.ms);
  return {
    p: best.pipeline,
    impl: { kernel: kernelName(best.tile), config: { ...best.tile }, autotune: { source: 'measured', candidates: best.candidates, key } },
  };
}

export const matmulKernel: KernelConfig<MatmulParams, MatmulData> = {
  workload: 'matmul',
  backend: 'webgpu',

  supports(p, devices: DeviceInfo[]) {
    if (!(WEBGPU_MATMUL_KERNELS as readonly string[]).includes(p.kernel))
      return `webgpu has no kernel "${p.kernel}" (it has ${WEBGPU_MATMUL_KERNELS.join(', ')})`;
    if (p.dtype !== 'f32' && p.dtype !== 'f16') return `WGSL has no ${p.dtype} type (webgpu runs f32 and f16)`;
    const dev = devices[0];
    if (p.dtype === 'f16' && !dev?.features?.includes('shader-f16')) return 'the adapter has no shader-f16 feature';
    const el = p.dtype === 'f16' ? 2 : 4;
    const biggest = el * p.batch * Math.max(p.m * p.k, p.k * p.n, p.m * p.n);
    const limit = dev?.limits?.maxStorageBufferBindingSize;
    if (limit && biggest > limit) return `a ${biggest}-byte operand exceeds the adapter's maxStorageBufferBindingSize (${limit})`;
    return undefined;
  },

  async setup(p, data, hooks): Promise<PreparedCase> {
    const ctx = await webgpuContext();
    const dtype = p.dtype as WgslDtype;
    const shape: GemmShape = { m: p.m, n: p.n, k: p.k, batch: p.batch };
    const g = new GemmBuffers(ctx, shape, dtype);
    try {
      g.upload(data.a, data.b);
      const vec4 = p.k % 4 === 0 && p.n % 4 === 0;
      let pipeline: GemmPipeline;
      let impl: Impl;
      if (p.kernel === 'naive') {
        pipeline = await naivePipeline(ctx, dtype, shape);
        impl = { kernel: 'naive', config: { wg: `${NAIVE_WG}x${NAIVE_WG}` } };
      } else if (p.kernel === 'tiled') {
        const tile = feasibleCandidates(ctx.device.limits)[0]!;
        pipeline = await tiledPipeline(ctx, tile, dtype, vec4, shape);
        impl = { kernel: `tiled-${tileName(tile)}${vec4 ? '-vec4' : ''}`, config: { ...tile }, autotune: { source: 'fixed', candidates: 0 } };
      } else {
        ({ p: pipeline, impl } = await autotuned(ctx, g, dtype, vec4, hooks));
      }
      if (dtype === 'f16') impl.notes = ['f16 storage, f32 accumulation'];
      return {
        device: ctx.info.name,
        timer: g.timer,
        impl,
        async runChecked() {
          g.poison();
          return g.runOnce(pipeline);
        },
        time: (iterations) => g.time(pipeline, iterations),
        async dispose() {
          g.destroy();
        },
      };
    } catch (err) {
      g.destroy();
      throw err;
    }
  },
};
