/**
 * matmul through TensorFlow.js, shared by every tfjs backend: `tf.matMul` on tensors of
 * the case's fresh inputs, on whichever tfjs backend is named. Each backend supplies how
 * to time it and how to tell that it really ran where it claims.
 */
import type * as tfc from '@tensorflow/tfjs-core';
import type { KernelConfig, PreparedCase } from '../../harness/backend.js';
import type { Impl, TimerKind } from '../../harness/results/schema.js';
import type { MatmulData, MatmulParams } from '../matmul/workload.js';

type Tf = typeof tfc;

/** What a tfjs backend plugs into the shared matmul case. */
export interface TfjsFlavor {
  /** gpubench backend id, e.g. `tfjs-webgpu`. */
  id: string;
  /** tfjs backend name to `setBackend`, e.g. `webgpu`, `cpu`, `tensorflow`. */
  tfBackend: string;
  /** Loads tfjs-core with this backend registered (and ready). */
  load(): Promise<Tf>;
  /** Device name for results. */
  deviceName(): Promise<string>;
  /** The clock `time` reads. */
  timer(): TimerKind | Promise<TimerKind>;
  /**
   * Times `iterations` matMuls. The default (host clock) waits for the last result's
   * data, so queued asynchronous work cannot escape the timer.
   */
  time?(tf: Tf, run: () => tfc.Tensor, iterations: number): Promise<number>;
  /** A reason the last result did not come from this backend's device, or undefined. */
  fallback?(tf: Tf, result: tfc.Tensor): string | undefined;
}

/** Host-clock timing of n matMuls: each result's data is awaited so nothing runs after the clock stops. */
export async function wallTime(run: () => tfc.Tensor, iterations: number): Promise<number> {
  const t0 = performance.now();
  for (let i = 0; i < iterations; i++) {
    const c = run();
    await c.data();
    c.dispose();
  }
  return performance.now() - t0;
}

/** Builds the matmul kernel of a tfjs flavor. tfjs computes in float32 only. */
export function tfjsMatmulKernel(flavor: TfjsFlavor): KernelConfig<MatmulParams, MatmulData> {
  return {
    workload: 'matmul',
    backend: flavor.id,
    supports(p) {
      if (p.dtype !== 'f32') return `tfjs has no ${p.dtype} matmul (float32 only)`;
      if (p.kernel !== 'auto') return `${flavor.id} has only the "auto" kernel (tf.matMul)`;
      return undefined;
    },
    async setup(p, data): Promise<PreparedCase> {
      const tf = await flavor.load();
      if (tf.getBackend() !== flavor.tfBackend) {
        const ok = await tf.setBackend(flavor.tfBackend);
        if (!ok || tf.getBackend() !== flavor.tfBackend)
          throw new Error(`tfjs could not switch to its ${flavor.tfBackend} backend (it is on ${tf.getBackend()})`);
      }
      const shapeA = p.batch > 1 ? [p.batch, p.m, p.k] : [p.m, p.k];
      const shapeB = p.batch > 1 ? [p.batch, p.k, p.n] : [p.k, p.n];
      const a = tf.tensor(data.a, shapeA, 'float32');
      const b = tf.tensor(data.b, shapeB, 'float32');
      const run = () => tf.matMul(a, b);
      let fallback: string | undefined;
      const impl: Impl = { kernel: 'tf.matMul', config: { tfBackend: flavor.tfBackend, tfjs: tf.version_core } };
      return {
        device: await flavor.deviceName(),
        timer: await flavor.timer(),
        impl,
        async runChecked() {
          // Released buffers are pooled: leave NaN in one of the output's size so a kernel that
          // writes nothing cannot return a previous result.
          tf.fill(p.batch > 1 ? [p.batch, p.m, p.n] : [p.m, p.n], Number.NaN).dispose();
          const c = run();
          fallback = flavor.fallback?.(tf, c);
          const out = (await c.data()) as Float32Array;
          c.dispose();
          return out;
        },
        time: (n) => (flavor.time ? flavor.time(tf, run, n) : wallTime(run, n)),
        fallbackReason: () => fallback,
        async dispose() {
          a.dispose();
          b.dispose();
        },
      };
    },
  };
}
