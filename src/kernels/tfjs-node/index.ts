/**
 * The `tfjs-node-gpu` and `tfjs-node` backends: TensorFlow.js on libtensorflow (CUDA for
 * the GPU package). Both are optional peers, used only when installed. Their probe says
 * why not otherwise, and a run on the GPU package fails any case that libtensorflow
 * silently placed on the CPU (no CUDA 11.2/cuDNN 8.1 found at load).
 */
import type * as tfc from '@tensorflow/tfjs-core';
import { cpus } from 'node:os';
import type { Backend, ProbeResult } from '../../harness/backend.js';
import { registerBackend, registerKernel } from '../../harness/registry.js';
import { tfjsMatmulKernel } from '../tfjs-common/matmul.js';
import { installedVersion } from '../../harness/environment.js';

type Tf = typeof tfc;

/** The libtensorflow backend's own view of where it runs (tfjs-node's NodeJSKernelBackend). */
interface NodeBackendFacts {
  isGPUPackage?: boolean;
  isUsingGpuDevice?: boolean;
}

const INSTALL_GPU =
  'npm install @tensorflow/tfjs-node-gpu (Linux x64; its install downloads libtensorflow 2.9.1 and it needs CUDA 11.2 + cuDNN 8.1 on LD_LIBRARY_PATH)';
const INSTALL_CPU = 'npm install @tensorflow/tfjs-node (its install downloads libtensorflow 2.9.1)';

/** Turns a load failure into a reason a person can act on. */
export function explainLoadError(pkg: string, err: unknown): string {
  const msg = err instanceof Error ? err.message : String(err);
  const install = pkg.endsWith('-gpu') ? INSTALL_GPU : INSTALL_CPU;
  if (err instanceof NotInstalled || /Cannot find (package|module) '@tensorflow\/tfjs-node/.test(msg))
    return `not installed: ${install}`;
  if (/libtensorflow/.test(msg))
    return `libtensorflow missing: ${pkg}'s install script could not download it (rerun \`npm rebuild ${pkg}\` with network access) (${firstLine(msg)})`;
  if (/libcud(art|nn)|libcublas|CUDA/i.test(msg))
    return `CUDA 11.2 + cuDNN 8.1 not found: ${pkg} links against libcudart.so.11.0 and libcudnn.so.8; put them on LD_LIBRARY_PATH (${firstLine(msg)})`;
  return `${pkg} failed to load: ${firstLine(msg)}`;
}

/** The optional package is not in node_modules (told apart from one that fails to load). */
class NotInstalled extends Error {}

function firstLine(s: string): string {
  return s.split('\n')[0]!.slice(0, 300);
}

function nodeFacts(tf: Tf): NodeBackendFacts {
  return tf.findBackend('tensorflow') as unknown as NodeBackendFacts;
}

/** Builds one libtensorflow-based backend (the GPU or the CPU package). */
function makeBackend(id: 'tfjs-node-gpu' | 'tfjs-node', pkg: string, priority: number): void {
  let loaded: Promise<Tf> | undefined;
  const load = (): Promise<Tf> => {
    loaded ??= (async () => {
      if (!installedVersion(pkg)) throw new NotInstalled(`${pkg} is not installed`);
      // A variable specifier: these packages are optional and have no types here.
      const mod = (await import(pkg as string)) as Tf;
      await mod.setBackend('tensorflow');
      return mod;
    })();
    loaded.catch(() => {
      loaded = undefined;
    });
    return loaded;
  };
  const gpuWanted = id === 'tfjs-node-gpu';

  const backend: Backend = {
    id,
    title: gpuWanted
      ? 'TensorFlow.js on libtensorflow with CUDA (@tensorflow/tfjs-node-gpu, optional)'
      : 'TensorFlow.js on libtensorflow, CPU (@tensorflow/tfjs-node, optional)',
    async probe(): Promise<ProbeResult> {
      let tf: Tf;
      try {
        tf = await load();
      } catch (err) {
        return { available: false, reason: explainLoadError(pkg, err) };
      }
      const facts = nodeFacts(tf);
      if (gpuWanted && !facts.isUsingGpuDevice)
        return {
          available: false,
          reason: 'tfjs-node-gpu loaded but libtensorflow found no GPU and would run on the CPU: CUDA 11.2 + cuDNN 8.1 must be on LD_LIBRARY_PATH',
        };
      return {
        available: true,
        devices: [
          {
            backend: id,
            id: gpuWanted ? 'cuda:0' : 'cpu:0',
            name: gpuWanted ? 'CUDA GPU (libtensorflow)' : (cpus()[0]?.model.trim() ?? 'CPU'),
            driver: `tfjs ${tf.version_core}`,
            software: !gpuWanted,
          },
        ],
      };
    },
  };
  registerBackend(backend, priority);
  registerKernel(
    tfjsMatmulKernel({
      id,
      tfBackend: 'tensorflow',
      load,
      deviceName: async () => (gpuWanted ? 'CUDA GPU (libtensorflow)' : (cpus()[0]?.model.trim() ?? 'CPU')),
      timer: () => 'wall-clock',
      fallback(tf) {
        if (tf.getBackend() !== 'tensorflow') return `tfjs ran on ${tf.getBackend()}, not libtensorflow`;
        if (gpuWanted && !nodeFacts(tf).isUsingGpuDevice) return 'tfjs-node-gpu ran on the CPU: libtensorflow found no CUDA GPU';
        return undefined;
      },
    }),
  );
}

makeBackend('tfjs-node-gpu', '@tensorflow/tfjs-node-gpu', 80);
makeBackend('tfjs-node', '@tensorflow/tfjs-node', 20);
