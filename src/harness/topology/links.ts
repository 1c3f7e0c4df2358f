/**
 * The ceiling of the link a bandwidth case crossed, and the case's share of it: HBM for a
 * copy inside one GPU (the catalog's datasheet figure), PCIe (generation × width), NVLink
 * (active links × the per-link rate of their generation), the network (the data
 * interface's speed). Rates and their sources: rates.ts, docs/cuda.md "Link ceilings".
 */
import type { CaseResult } from '../results/schema.js';
import { NVLINK_GBPS_PER_LINK, PCIE_GBPS_PER_LANE } from './rates.js';
import type { GpuTopology, HostTopology, LinkCeiling, LinkSpec } from './schema.js';

const fmt = (x: number): string => (x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(3).replace(/0+$/, '').replace(/\.$/, ''));

/** Records the ceiling on a measured case: `link` with its pct, and `metrics.pctOfLink`. */
export function applyLink(result: CaseResult, ceiling: LinkSpec | undefined): void {
  if (!ceiling) return;
  const value = result.metrics[ceiling.metric];
  const link: LinkCeiling = { ...ceiling };
  if (typeof value === 'number' && Number.isFinite(value)) {
    link.pct = (100 * value) / ceiling.ceilingGBps;
    result.metrics.pctOfLink = link.pct;
  }
  result.link = link;
}

/** HBM/GDDR: the datasheet memory bandwidth, compared with a copy's read+write traffic. */
export function memoryCeiling(device: string, catalogEntry: { id: string; memoryGBps?: number | undefined } | undefined): LinkSpec | undefined {
  if (!catalogEntry?.memoryGBps) return undefined;
  return {
    kind: 'memory',
    what: `${device} memory`,
    ceilingGBps: catalogEntry.memoryGBps,
    basis: `datasheet memory bandwidth of ${catalogEntry.id} (configs/gpus.yaml), compared with bytes read + written`,
    metric: 'readWriteGBps',
  };
}

/** PCIe between host and one GPU (host↔device copies): max generation × current width. */
export function pcieCeiling(gpu: GpuTopology, metric: LinkCeiling['metric'] = 'bandwidthGBps'): LinkSpec | undefined {
  const p = gpu.pcie;
  const gen = p?.maxGen ?? p?.currentGen;
  const width = p?.currentWidth ?? p?.maxWidth;
  if (!p?.ceilingGBps || gen === undefined || width === undefined) return undefined;
  return {
    kind: 'pcie',
    what: `${gpu.id ?? gpu.pciBusId} PCIe gen${gen} x${width}`,
    ceilingGBps: p.ceilingGBps,
    basis: `PCIe gen${gen} ${fmt(PCIE_GBPS_PER_LANE[gen]!)} GB/s per lane per direction × ${width} lanes (${p.source})`,
    metric,
  };
}

/** NVLink of one GPU: active links × per-link rate, one direction. */
export function nvlinkCeiling(gpu: GpuTopology, metric: LinkCeiling['metric'] = 'busbwGBps'): LinkSpec | undefined {
  const active = (gpu.nvlinks ?? []).filter((l) => l.active && l.generation !== undefined && NVLINK_GBPS_PER_LINK[l.generation] !== undefined);
  if (!gpu.nvlinkGBps || active.length === 0) return undefined;
  const gens = [...new Set(active.map((l) => l.generation!))];
  return {
    kind: 'nvlink',
    what: `${gpu.id ?? gpu.pciBusId} NVLink ${gens.join('/')} ×${active.length}`,
    ceilingGBps: gpu.nvlinkGBps,
    basis: `${active.length} active links × ${gens.map((g) => `${NVLINK_GBPS_PER_LINK[g]} GB/s (NVLink ${g})`).join(', ')} per link per direction (NVML)`,
    metric,
  };
}

/**
 * Between several local GPUs (a collective across them): NVLink when every one has active
 * links, else PCIe; the slowest GPU's figure (each GPU's data crosses its own link).
 */
export function gpuGroupCeiling(gpus: GpuTopology[], metric: LinkCeiling['metric'] = 'busbwGBps'): LinkSpec | undefined {
  if (gpus.length < 2) return undefined;
  const each = gpus.every((g) => nvlinkCeiling(g)) ? gpus.map((g) => nvlinkCeiling(g, metric)) : gpus.map((g) => pcieCeiling(g, metric));
  if (each.some((c) => !c)) return undefined;
  const min = each.reduce((a, c) => (c!.ceilingGBps < a!.ceilingGBps ? c : a))!;
  return { ...min, what: `${min.what}${gpus.length > 1 ? ` (slowest of ${gpus.length} GPUs)` : ''}` };
}

/** One host's NCCL network: its ACTIVE RDMA ports together, else (sockets) its data interface. */
function ncclHostNet(t: HostTopology | undefined): { what: string; gbps: number; rdma: boolean } | undefined {
  const ports = (t?.infiniband ?? []).flatMap((d) => d.ports.filter((p) => p.state === 'ACTIVE' && p.rateGbps).map((p) => ({ name: `${d.name}/${p.port}`, gbps: p.rateGbps! })));
  if (ports.length) return { what: `${ports.length} RDMA port${ports.length === 1 ? '' : 's'} (${ports.map((p) => `${p.name} ${p.gbps} Gb/s`).join(', ')})`, gbps: ports.reduce((a, p) => a + p.gbps, 0), rdma: true };
  const nic = t?.nics?.find((x) => x.name === t.dataInterface);
  return nic?.speedMbps ? { what: `${nic.name} ${nic.speedMbps} Mb/s`, gbps: nic.speedMbps / 1000, rdma: false } : undefined;
}

/**
 * Between hosts under NCCL: NCCL spreads its channels over every active RDMA port of a host
 * (one rail per GPU on a rail-optimised node), so a ring's busbw is bounded by the host's
 * ports together; the slowest host's sum. A host without an active RDMA port runs NCCL over
 * sockets: its data interface is taken (NCCL_SOCKET_IFNAME may pick another; the basis says so).
 */
export function ncclNetworkCeiling(nodes: { hostname?: unknown; topology?: unknown }[], metric: LinkSpec['metric'] = 'busbwGBps'): LinkSpec | undefined {
  const byHost = new Map<string, ReturnType<typeof ncclHostNet>>();
  for (const n of nodes) {
    const host = String(n.hostname ?? '?');
    if (!byHost.get(host)) byHost.set(host, ncclHostNet(n.topology as HostTopology | undefined));
  }
  if (byHost.size < 2 || [...byHost.values()].some((v) => !v)) return undefined;
  const [host, slow] = [...byHost.entries()].reduce((a, b) => (b[1]!.gbps < a[1]!.gbps ? b : a));
  return {
    kind: 'network',
    what: `${slow!.what} on ${host} (slowest host of ${byHost.size})`,
    ceilingGBps: slow!.gbps / 8,
    basis: slow!.rdma
      ? `active RDMA port rates summed (sysfs /sys/class/infiniband/*/ports/*/rate) ${slow!.gbps} Gb/s / 8 = GB/s per direction`
      : `no active RDMA port: NCCL over sockets, assumed on the data interface (NCCL_SOCKET_IFNAME may choose another), ${slow!.gbps * 1000} Mb/s / 8000 = GB/s per direction`,
    metric,
  };
}

/**
 * Between hosts (a collective whose ranks span several): the slowest data interface of the
 * hosts, from each node's topology (`dataInterface` and its NIC speed). Undefined when any
 * host's is unknown (loopback, no speed reported).
 */
export function networkCeiling(nodes: { hostname?: unknown; topology?: unknown }[], metric: LinkCeiling['metric'] = 'busbwGBps'): LinkSpec | undefined {
  const byHost = new Map<string, { nic: string; mbps: number } | undefined>();
  for (const n of nodes) {
    const host = String(n.hostname ?? '?');
    if (byHost.has(host) && byHost.get(host)) continue;
    const t = n.topology as HostTopology | undefined;
    const nic = t?.nics?.find((x) => x.name === t.dataInterface);
    byHost.set(host, nic?.speedMbps ? { nic: nic.name, mbps: nic.speedMbps } : undefined);
  }
  if (byHost.size < 2) return undefined;
  const known = [...byHost.entries()];
  if (known.some(([, v]) => !v)) return undefined;
  const [host, slow] = known.reduce((a, b) => (b[1]!.mbps < a[1]!.mbps ? b : a));
  const nics = [...new Set(known.map(([, v]) => `${v!.nic} ${v!.mbps} Mb/s`))];
  return {
    kind: 'network',
    what: `${slow!.nic} on ${host}, ${slow!.mbps} Mb/s (slowest data interface of ${byHost.size} hosts${nics.length > 1 ? `: ${nics.join(', ')}` : ''})`,
    ceilingGBps: slow!.mbps / 8000,
    basis: `NIC speed (sysfs /sys/class/net/${slow!.nic}/speed) ${slow!.mbps} Mb/s / 8000 = GB/s per direction`,
    metric,
  };
}
