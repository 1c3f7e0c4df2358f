/**
 * The local GPUs' topology from NVML (native/src/topology.cc): NVLinks with their generation
 * and far end, the PCIe link, CPU affinity and the common ancestor of each pair, merged with
 * sysfs's NUMA node. Read once per process; a driver without NVML (or without some entry
 * point) gives what it can, never an error.
 */
import { NVLINK_GBPS_PER_LINK, NVLINK_GENERATION_OF_NVML, pcieGBps } from '../../harness/topology/rates.js';
import { normalizeBusId, registerGpuTopologySource, withSysfs } from '../../harness/topology/host.js';
import type { GpuTopology, NvLink } from '../../harness/topology/schema.js';
import type { NativeNvmlTopology } from './addon.js';
import { openedStack, type CudaStack } from './context.js';

const cache = new WeakMap<CudaStack, GpuTopology[]>();

/** GpuTopology records of NVML's answer for the stack's devices (pure: tests feed it). */
export function toGpuTopology(s: Pick<CudaStack, 'devices'>, raw: (NativeNvmlTopology | undefined)[]): GpuTopology[] {
  const byBus = new Map(s.devices.map((d) => [normalizeBusId(d.pciBusId), `cuda:${d.index}`]));
  return s.devices.map((d, i) => {
    const n = raw[i];
    const g: GpuTopology = { pciBusId: normalizeBusId(d.pciBusId), id: `cuda:${d.index}`, name: d.name, uuid: d.uuid };
    if (!n) return g;
    const p = n.pcie;
    if (p.maxGen !== undefined || p.currentGen !== undefined || p.maxWidth !== undefined || p.currentWidth !== undefined) {
      g.pcie = { source: 'nvml', ...p };
      const c = pcieGBps(p.maxGen ?? p.currentGen, p.currentWidth ?? p.maxWidth);
      if (c !== undefined) g.pcie.ceilingGBps = c;
    }
    if (n.cpuAffinity) g.cpuAffinity = n.cpuAffinity;
    if (n.nvlinks) {
      g.nvlinks = n.nvlinks.map((l) => {
        const link: NvLink = { link: l.link, active: l.active };
        if (l.version !== undefined) {
          link.nvmlVersion = l.version;
          const gen = NVLINK_GENERATION_OF_NVML[l.version];
          if (gen !== undefined) link.generation = gen;
        }
        if (l.remotePciBusId) {
          link.remotePciBusId = normalizeBusId(l.remotePciBusId);
          const peer = byBus.get(link.remotePciBusId);
          if (peer) link.remote = peer;
        }
        return link;
      });
      const rate = g.nvlinks.filter((l) => l.active).reduce((a, l) => a + (l.generation !== undefined ? (NVLINK_GBPS_PER_LINK[l.generation] ?? 0) : 0), 0);
      if (rate > 0) g.nvlinkGBps = rate;
    }
    if (n.peers) g.peers = n.peers.map((p) => ({ id: `cuda:${s.devices[p.index]?.index ?? p.index}`, level: p.level }));
    return g;
  });
}

/** The stack's GPUs' NVML topology (each GPU with what NVML would tell; bare records without NVML). */
export function stackTopology(s: CudaStack): GpuTopology[] {
  const hit = cache.get(s);
  if (hit) return hit;
  let raw: (NativeNvmlTopology | undefined)[] = [];
  if (s.nvml.ok) {
    try {
      raw = s.addon.nvmlTopology(s.devices.map((d) => d.uuid));
    } catch {
      // A GPU NVML cannot find (MIG, a mismatched driver): no NVML facts, the sysfs ones remain.
      raw = [];
    }
  }
  const out = toGpuTopology(s, raw);
  cache.set(s, out);
  return out;
}

/**
 * One device's topology (NVML, completed with sysfs's NUMA node): what a host↔device copy
 * passes to `pcieCeiling` for its link ceiling.
 */
export function deviceTopology(s: CudaStack, index: number): GpuTopology | undefined {
  const g = stackTopology(s).find((x) => x.id === `cuda:${index}`);
  return g ? withSysfs(g) : undefined;
}

registerGpuTopologySource(() => {
  const s = openedStack();
  return s ? { source: s.nvml.ok ? 'nvml' : 'cuda', gpus: stackTopology(s) } : undefined;
});
