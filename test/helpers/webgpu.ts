/**
 * Whether the WebGPU tests can run here. On a machine with no Vulkan driver they are
 * skipped with the reason and the fix; in CI (`GPUBENCH_REQUIRE_WEBGPU=1`, set by
 * .ci/run) a missing adapter fails them instead, so CI cannot go green without them.
 */
import { probeBackend } from '../../src/harness/registry.js';
import '../../src/kernels/index.js';

export const REQUIRE_WEBGPU = process.env.GPUBENCH_REQUIRE_WEBGPU === '1';

export const FIX =
  'install a Vulkan driver; without a GPU: Mesa lavapipe from bookworm-backports ' +
  '(`apt-get install -t bookworm-backports mesa-vulkan-drivers libvulkan1`, see README)';

/** Probes a WebGPU-based backend once; returns undefined when usable, else the reason. */
export async function webgpuMissing(backend = 'webgpu'): Promise<string | undefined> {
  const p = await probeBackend(backend);
  if (p.available) return undefined;
  if (REQUIRE_WEBGPU) return undefined; // let the tests run and fail loudly
  const reason = `${backend} unavailable (${p.reason}); fix: ${FIX}`;
  console.warn(`skipping ${backend} tests: ${reason}`);
  return reason;
}
