/**
 * peercopy on the `cuda` backend: cuMemcpyPeerAsync between two GPUs with peer access
 * enabled both ways (cuCtxEnablePeerAccess), on a stream of the GPU whose context copies
 * (the destination for `read`, the source for `write`), timed with CUDA events; after the
 * timed runs the destination is compared with the source byte for byte. A pair without
 * peer access is skipped, as nvbandwidth leaves it N/A.
 */
import type { KernelConfig, PreparedCase } from '../../harness/backend.js';
import { asFloat32 } from '../acceptance/bytes.js';
import { initiatorOf, peerCopyWorkload, type PeerCopyData, type PeerCopyParams } from '../acceptance/peercopy.js';
import { cudaStack, openedStack } from './context.js';
import { native, nativeAsync } from './errors.js';
import { openSampler, sampled, toTelemetry } from './telemetry.js';
import { gpuGroupCeiling } from '../../harness/topology/links.js';
import { deviceTopology } from './topology.js';

export const cudaPeerCopyKernel: KernelConfig<PeerCopyParams, PeerCopyData> = {
  workload: 'peercopy',
  backend: 'cuda',
  supports(p, devices) {
    if (devices.length < 2) return `needs two GPUs; this host has ${devices.length}`;
    if (p.src >= devices.length || p.dst >= devices.length) return `cuda:${Math.max(p.src, p.dst)} does not exist (${devices.length} GPUs)`;
    const mem = Math.min(...devices.map((d) => d.memoryBytes ?? Infinity));
    if (p.bytes > mem * 0.9) return `a ${p.bytes}-byte buffer does not fit in the GPUs' ${mem} bytes`;
    const stack = openedStack();
    const a = initiatorOf(p);
    const b = a === p.src ? p.dst : p.src;
    try {
      if (stack && !stack.addon.canAccessPeer(a, b)) return `cuda:${a} cannot access cuda:${b} as a peer (nvbandwidth leaves the pair N/A)`;
    } catch (err) {
      return `cuDeviceCanAccessPeer failed: ${err instanceof Error ? err.message : String(err)}`;
    }
    return undefined;
  },
  async setup(p, data): Promise<PreparedCase> {
    const s = await cudaStack();
    if (!s.ok) throw new Error(s.reason);
    const { stack } = s;
    const initiator = initiatorOf(p);
    const copy = native(() => new stack.addon.PeerCopy({ src: p.src, dst: p.dst, bytes: p.bytes, initiator: p.mode === 'read' ? 'dst' : 'src' }));
    try {
      native(() => copy.upload(data.src));
    } catch (err) {
      copy.dispose();
      throw err;
    }
    const dev = stack.devices.find((d) => d.index === initiator) ?? stack.devices[0]!;
    const sam = openSampler(stack, dev.uuid);
    return {
      device: `${dev.name} (cuda:${p.src} -> cuda:${p.dst})`,
      timer: 'cuda-event',
      impl: { kernel: 'cuMemcpyPeerAsync', config: { context: `cuda:${initiator}`, peerAccess: true } },
      runChecked: async () => asFloat32(native(() => copy.runChecked())),
      time: (n) => sampled(sam, () => nativeAsync(() => copy.timeAsync(n))),
      telemetry: () => (sam ? toTelemetry(sam.summary()) : undefined),
      // NVLink where both GPUs have active links, else PCIe: the slower GPU's, one direction.
      link: () => {
        const gs = [p.src, p.dst].map((i) => deviceTopology(stack, i));
        return gs.every((g) => g !== undefined) ? gpuGroupCeiling(gs as NonNullable<(typeof gs)[number]>[], 'bandwidthGBps') : undefined;
      },
      afterTiming: async () => ({ check: peerCopyWorkload.check(p, data, asFloat32(native(() => copy.readBack()))) }),
      async dispose() {
        sam?.close();
        copy.dispose();
      },
    };
  },
};
