/**
 * This host's topology for results files and `gpubench list`: the sysfs view (GPUs' PCI
 * links, NICs, RDMA ports), merged with what a backend knows of its GPUs (the `cuda` backend
 * registers NVML's NVLinks, PCIe and affinity) once that backend's stack is open.
 */
import type { GpuTopology, HostTopology } from './schema.js';
import { interfaceOf, readGpuPci, readInfiniband, readNics, sysfsRoot } from './sysfs.js';

/** A source of GPU topology beyond sysfs; answers undefined while its stack is not open (it must not open it). */
export type GpuTopologySource = () => { source: string; gpus: GpuTopology[] } | undefined;

const sources: GpuTopologySource[] = [];

/** Registers a backend's GPU topology (the `cuda` backend: NVML). */
export function registerGpuTopologySource(s: GpuTopologySource): void {
  sources.push(s);
}

/** The registered sources' GPUs (NVML's, where the CUDA stack is open), with their source names. */
export function backendGpus(): { sources: string[]; gpus: GpuTopology[] } {
  const out = { sources: [] as string[], gpus: [] as GpuTopology[] };
  for (const s of sources) {
    const r = s();
    if (!r) continue;
    out.sources.push(r.source);
    out.gpus.push(...r.gpus);
  }
  return out;
}

/** sysfs spelling of a PCI bus id: NVML's "00000000:1B:00.0" → "0000:1b:00.0". */
export function normalizeBusId(id: string): string {
  const m = /^([0-9a-f]+):([0-9a-f]{2}):([0-9a-f]{2})\.([0-7])$/i.exec(id.trim());
  if (!m) return id.trim().toLowerCase();
  const domain = m[1]!.replace(/^0+(?=[0-9a-f]{4})/i, '').padStart(4, '0');
  return `${domain}:${m[2]}:${m[3]}.${m[4]}`.toLowerCase();
}

/**
 * One record per GPU: the backend's facts (NVML) over sysfs's for the same PCI address; a
 * sysfs fact NVML lacks (the NUMA node) is kept.
 */
export function mergeGpus(sysfs: GpuTopology[], backend: GpuTopology[]): GpuTopology[] {
  const byBus = new Map(sysfs.map((g) => [normalizeBusId(g.pciBusId), g]));
  const out: GpuTopology[] = [];
  for (const b of backend) {
    const key = normalizeBusId(b.pciBusId);
    const s = byBus.get(key);
    byBus.delete(key);
    out.push({ ...s, ...b, pciBusId: key, ...(b.pcie ?? s?.pcie ? { pcie: b.pcie ?? s?.pcie } : {}), ...(s?.numaNode !== undefined && b.numaNode === undefined ? { numaNode: s.numaNode } : {}) });
  }
  return [...out, ...byBus.values()];
}

let gpuPci: { root: string; gpus: GpuTopology[] } | undefined;

/** sysfs's GPUs, read once per process and root (a GPU does not move during a run). */
export function sysfsGpus(root = sysfsRoot()): GpuTopology[] {
  if (gpuPci?.root !== root) gpuPci = { root, gpus: readGpuPci(root) };
  return gpuPci.gpus;
}

/** One backend GPU record completed with sysfs's facts for the same PCI address. */
export function withSysfs(g: GpuTopology, root = sysfsRoot()): GpuTopology {
  const key = normalizeBusId(g.pciBusId);
  return mergeGpus(sysfsGpus(root).filter((s) => normalizeBusId(s.pciBusId) === key), [g])[0]!;
}

/** Options of hostTopology. */
export interface HostTopologyOptions {
  /** The address this process's data links listen on: names `dataInterface`. */
  dataHost?: string;
  /** sysfs root. @default GPUBENCH_SYSFS_ROOT or /sys */
  root?: string;
}

/** The host's GPUs, NICs and RDMA devices. Reads files only; never throws. */
export function hostTopology(o: HostTopologyOptions = {}): HostTopology {
  const root = o.root ?? sysfsRoot();
  const backend = backendGpus();
  const data = o.dataHost ? interfaceOf(o.dataHost) : undefined;
  // A Kubernetes node can have hundreds of pod veths: virtual interfaces without a routable
  // address are counted, not listed (every rank's entry of environment.nodes carries this).
  const all = readNics(root);
  const kept = all.filter((n) => !n.virtual || n.name === data || n.name === 'lo' || (n.addresses ?? []).some((a) => !a.startsWith('fe80:')));
  const t: HostTopology = {
    gpus: mergeGpus(sysfsGpus(root), backend.gpus),
    nics: kept,
    infiniband: readInfiniband(root),
    sources: ['sysfs', ...backend.sources],
  };
  if (kept.length < all.length) t.virtualNicsOmitted = all.length - kept.length;
  if (data) t.dataInterface = data;
  return t;
}
