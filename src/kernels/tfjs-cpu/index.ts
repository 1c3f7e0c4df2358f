/**
 * The `tfjs-cpu` backend: TensorFlow.js's plain-JavaScript CPU kernels. The reference
 * stack that works everywhere; timed with the host clock.
 */
import { cpus, totalmem } from 'node:os';
import type { Backend } from '../../harness/backend.js';
import { registerBackend, registerKernel } from '../../harness/registry.js';
import { tfjsMatmulKernel } from '../tfjs-common/matmul.js';

const cpuName = (): string => cpus()[0]?.model.trim() ?? 'CPU';

async function load() {
  const tf = await import('@tensorflow/tfjs-core');
  await import('@tensorflow/tfjs-backend-cpu');
  // Production mode: no debug-only checks inside timed kernels, no console banners.
  tf.enableProdMode();
  return tf;
}

export const tfjsCpuBackend: Backend = {
  id: 'tfjs-cpu',
  title: 'TensorFlow.js CPU backend (plain JavaScript): the reference stack',
  async probe() {
    try {
      const tf = await load();
      if (!tf.findBackendFactory('cpu')) return { available: false, reason: '@tensorflow/tfjs-backend-cpu did not register: reinstall with npm ci' };
      return {
        available: true,
        devices: [{ backend: 'tfjs-cpu', id: 'cpu:0', name: cpuName(), vendor: 'cpu', software: true, driver: `tfjs-core ${tf.version_core}`, memoryBytes: totalmem() }],
      };
    } catch (err) {
      return { available: false, reason: `cannot load TensorFlow.js: ${(err as Error).message}; run npm ci` };
    }
  },
};

registerBackend(tfjsCpuBackend, 10);
registerKernel(
  tfjsMatmulKernel({
    id: 'tfjs-cpu',
    tfBackend: 'cpu',
    load,
    deviceName: async () => cpuName(),
    timer: () => 'wall-clock',
    fallback: (tf) => (tf.getBackend() !== 'cpu' ? `tfjs ran on ${tf.getBackend()}, not cpu` : undefined),
  }),
);
