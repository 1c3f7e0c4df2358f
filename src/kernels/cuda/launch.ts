/**
 * launch on the `cuda` backend: an empty PTX kernel (one thread) launched with
 * cuLaunchKernel. `device` is timed with CUDA events around many back-to-back launches;
 * `host-submit` and `host-roundtrip` with the host's steady clock (labelled wall-clock).
 */
import type { KernelConfig, PreparedCase } from '../../harness/backend.js';
import type { LaunchData, LaunchParams } from '../acceptance/launch.js';
import { caseDevice, cudaStack } from './context.js';
import { native, nativeAsync } from './errors.js';

export const cudaLaunchKernel: KernelConfig<LaunchParams, LaunchData> = {
  workload: 'launch',
  backend: 'cuda',
  async setup(p, data): Promise<PreparedCase> {
    const s = await cudaStack();
    if (!s.ok) throw new Error(s.reason);
    const { stack } = s;
    const dev = caseDevice(stack);
    const launch = native(() => new stack.addon.Launch({ device: dev.index }));
    const time =
      p.clock === 'device'
        ? (n: number) => launch.timeAsync(n)
        : p.clock === 'host-submit'
          ? (n: number) => launch.timeHostAsync(n)
          : (n: number) => launch.timeRoundTripAsync(n);
    return {
      device: dev.name,
      timer: p.clock === 'device' ? 'cuda-event' : 'wall-clock',
      impl: { kernel: 'gb_empty (PTX, 1 thread)', config: { clock: p.clock } },
      runChecked: async () => Float64Array.of(native(() => launch.runChecked(data.value))),
      time: (n) => nativeAsync(() => time(n)),
      async dispose() {
        launch.dispose();
      },
    };
  },
};
