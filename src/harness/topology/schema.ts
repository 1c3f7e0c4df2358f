/**
 * The topology contract of results files and `gpubench list --json`: each GPU's PCIe link,
 * NVLinks, NUMA node and CPU affinity, the host's NICs and InfiniBand ports, and the link
 * ceiling a bandwidth case is measured against. A fact that could not be read is absent,
 * never guessed.
 */
import { z } from 'zod';

/** A PCIe link: generation and width, as the device can run it (max) and as it runs now (current). */
export const PcieLink = z.object({
  maxGen: z.number().int().optional(),
  currentGen: z.number().int().optional(),
  maxWidth: z.number().int().optional(),
  currentWidth: z.number().int().optional(),
  /**
   * Bytes per second one direction of the link can carry, GB/s: the per-lane rate of `maxGen`
   * (after line encoding) × `currentWidth` (GPUs drop their generation when idle, not their width).
   */
  ceilingGBps: z.number().optional(),
  /** Where the figures came from: NVML, or the kernel's PCI sysfs (`current_link_speed`…). */
  source: z.enum(['nvml', 'sysfs']),
}).passthrough();
export type PcieLink = z.infer<typeof PcieLink>;

/** One NVLink of a GPU (NVML). */
export const NvLink = z.object({
  link: z.number().int().nonnegative(),
  active: z.boolean(),
  /** nvmlDeviceGetNvLinkVersion as NVML returns it (nvml.h's nvmlNvlinkVersion_t: 6 = NVLink 4.0). */
  nvmlVersion: z.number().int().optional(),
  /** The NVLink generation that value stands for (1–5), where known. */
  generation: z.number().int().optional(),
  /** PCI bus id of what the link connects to (another GPU, an NVSwitch). */
  remotePciBusId: z.string().optional(),
  /** The local GPU at the far end, e.g. `cuda:1`, when it is one. */
  remote: z.string().optional(),
}).passthrough();
export type NvLink = z.infer<typeof NvLink>;

/** One GPU's place in the machine. */
export const GpuTopology = z.object({
  /** sysfs spelling: `0000:1b:00.0`. */
  pciBusId: z.string(),
  /** The CUDA ordinal (`cuda:N`), where the CUDA stack was opened. */
  id: z.string().optional(),
  name: z.string().optional(),
  uuid: z.string().optional(),
  pcie: PcieLink.optional(),
  /** NUMA node of its PCI device (sysfs `numa_node`); null where the kernel has none (-1). */
  numaNode: z.number().int().nullable().optional(),
  /** CPUs close to it, as a cpulist ("0-15,32-47"): NVML's affinity, else sysfs `local_cpulist`. */
  cpuAffinity: z.string().optional(),
  nvlinks: z.array(NvLink).optional(),
  /** Active NVLinks × the per-link rate of their generation, one direction, GB/s. */
  nvlinkGBps: z.number().optional(),
  /** nvmlDeviceGetTopologyCommonAncestor with every other local GPU: internal, single, multiple, hostbridge, node, system. */
  peers: z.array(z.object({ id: z.string(), level: z.string() })).optional(),
}).passthrough();
export type GpuTopology = z.infer<typeof GpuTopology>;

/** A network interface from /sys/class/net. */
export const Nic = z.object({
  name: z.string(),
  /** `up`, `down`, `unknown` (loopback), … */
  operstate: z.string().optional(),
  /** Link speed in Mb/s (sysfs `speed`); null where the device reports none (loopback, a down link, some virtual devices). */
  speedMbps: z.number().nullable(),
  mtu: z.number().int().optional(),
  /** Kernel driver of its device (`mlx5_core`, `virtio_net`…); absent for virtual interfaces. */
  driver: z.string().optional(),
  pciBusId: z.string().optional(),
  numaNode: z.number().int().nullable().optional(),
  /** No device behind it (veth, bridge, loopback…). */
  virtual: z.boolean(),
  /** The InfiniBand/RDMA device it belongs to (RoCE, IPoIB). */
  rdmaDevice: z.string().optional(),
  addresses: z.array(z.string()).optional(),
}).passthrough();
export type Nic = z.infer<typeof Nic>;

/** An RDMA device from /sys/class/infiniband and its ports. */
export const IbDevice = z.object({
  name: z.string(),
  numaNode: z.number().int().nullable().optional(),
  pciBusId: z.string().optional(),
  /** Network interfaces on it. */
  netdevs: z.array(z.string()).optional(),
  ports: z.array(z.object({
    port: z.number().int(),
    /** `ACTIVE`, `DOWN`, … (sysfs `state` without its number). */
    state: z.string().optional(),
    physState: z.string().optional(),
    /** sysfs `rate`, e.g. "400 Gb/sec (4X NDR)". */
    rate: z.string().optional(),
    rateGbps: z.number().optional(),
    /** `InfiniBand` or `Ethernet` (RoCE). */
    linkLayer: z.string().optional(),
  }).passthrough()),
}).passthrough();
export type IbDevice = z.infer<typeof IbDevice>;

/** A host's topology: its GPUs, NICs and RDMA devices. */
export const HostTopology = z.object({
  gpus: z.array(GpuTopology),
  nics: z.array(Nic),
  infiniband: z.array(IbDevice),
  /** Virtual interfaces with no routable address (pod veths…), counted instead of listed. */
  virtualNicsOmitted: z.number().int().optional(),
  /** The interface that carries this process's data links (a worker of a multi-process run). */
  dataInterface: z.string().optional(),
  /** Where the GPU facts came from: `sysfs`, and `nvml` where the CUDA stack was opened. */
  sources: z.array(z.string()),
}).passthrough();
export type HostTopology = z.infer<typeof HostTopology>;

/** Kinds of link a bandwidth case can be bounded by. */
export const LinkKind = z.enum(['memory', 'pcie', 'nvlink', 'network']);

/** A link's ceiling as a kernel or the coordinator states it, before the case's share is known. */
export const LinkSpec = z.object({
  kind: LinkKind,
  /** What it is, e.g. "eth0 on node1, 10000 Mb/s (slowest data interface of 2 hosts)". */
  what: z.string(),
  /** One direction's bytes per second, GB/s (1e9). */
  ceilingGBps: z.number().positive(),
  /** How the ceiling was computed (the rates used). */
  basis: z.string(),
  /** The case's metric compared with it: the one that counts what the link carries. */
  metric: z.enum(['readWriteGBps', 'bandwidthGBps', 'busbwGBps', 'algbwGBps']),
});
export type LinkSpec = z.infer<typeof LinkSpec>;

/** The ceiling of the link a bandwidth case's data crossed, and how close the case came to it. */
export const LinkCeiling = LinkSpec.extend({
  /** metrics[metric] / ceilingGBps × 100. */
  pct: z.number().optional(),
}).passthrough();
export type LinkCeiling = z.infer<typeof LinkCeiling>;
