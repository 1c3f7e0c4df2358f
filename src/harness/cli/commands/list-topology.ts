/** `gpubench list`'s topology tables: one row per GPU, per NIC and per RDMA port. */
import type { HostTopology, GpuTopology, PcieLink } from '../../topology/schema.js';

/** cli-table3's constructor, as `list` imports it (loaded lazily there). */
type TableCtor = new (o: { head: string[]; style: { head: string[]; border: string[] } }) => { push(row: string[]): void; toString(): string };

const gbps = (x: number | undefined): string => (x === undefined ? '' : `${x >= 100 ? x.toFixed(0) : x.toFixed(1)} GB/s`);

/** "gen4 x16 (max gen5 x16)"; the current generation of an idle GPU is often lower (power saving). */
export function pcieText(p: PcieLink | undefined): string {
  if (!p) return '';
  const cur = `gen${p.currentGen ?? '?'} x${p.currentWidth ?? '?'}`;
  const max = `gen${p.maxGen ?? '?'} x${p.maxWidth ?? '?'}`;
  return cur === max ? cur : `${cur} (max ${max})`;
}

/** "4/18 active, NVLink 4, 100 GB/s" or "". */
export function nvlinkText(g: GpuTopology): string {
  if (!g.nvlinks) return '';
  const active = g.nvlinks.filter((l) => l.active);
  if (active.length === 0) return `0/${g.nvlinks.length} active`;
  const gens = [...new Set(active.map((l) => (l.generation !== undefined ? String(l.generation) : `nvml ${l.nvmlVersion ?? '?'}`)))];
  const to = [...new Set(active.map((l) => l.remote ?? l.remotePciBusId).filter((x): x is string => !!x))];
  return `${active.length}/${g.nvlinks.length} active, NVLink ${gens.join('/')}${g.nvlinkGBps ? `, ${gbps(g.nvlinkGBps)}` : ''}${to.length ? ` → ${to.slice(0, 4).join(', ')}${to.length > 4 ? ', …' : ''}` : ''}`;
}

/** The GPU, NIC and RDMA tables, or a line saying there is none. */
export function renderTopology(t: HostTopology, Table: TableCtor): string {
  const style = { head: [] as string[], border: [] as string[] };
  const parts: string[] = [];
  if (t.gpus.length) {
    const g = new Table({ head: ['gpu', 'PCI', 'PCIe now (max)', 'PCIe GB/s', 'NVLink', 'NUMA', 'CPUs', 'to other GPUs'], style });
    for (const x of t.gpus) {
      g.push([
        x.id ?? '',
        x.pciBusId,
        pcieText(x.pcie),
        gbps(x.pcie?.ceilingGBps),
        nvlinkText(x),
        x.numaNode === undefined ? '' : x.numaNode === null ? 'none' : String(x.numaNode),
        x.cpuAffinity ?? '',
        (x.peers ?? []).map((p) => `${p.id} ${p.level}`).join(', '),
      ]);
    }
    parts.push(`GPU topology (${t.sources.join(' + ')}):\n${g.toString()}`);
  } else {
    parts.push('GPU topology: no NVIDIA GPU in /sys/bus/pci/devices');
  }
  const n = new Table({ head: ['nic', 'state', 'speed', 'mtu', 'driver', 'PCI', 'NUMA', 'addresses'], style });
  for (const x of t.nics) {
    n.push([
      `${x.name}${x.name === t.dataInterface ? ' (data)' : ''}`,
      x.operstate ?? '',
      x.speedMbps ? `${x.speedMbps >= 1000 ? `${x.speedMbps / 1000} Gb/s` : `${x.speedMbps} Mb/s`}` : '',
      x.mtu !== undefined ? String(x.mtu) : '',
      x.driver ?? (x.virtual ? 'virtual' : ''),
      x.pciBusId ?? '',
      x.numaNode === undefined ? '' : x.numaNode === null ? 'none' : String(x.numaNode),
      (x.addresses ?? []).join(' '),
    ]);
  }
  parts.push(`Network interfaces (/sys/class/net${t.virtualNicsOmitted ? `; ${t.virtualNicsOmitted} virtual without an address not shown` : ''}):\n${n.toString()}`);
  if (t.infiniband.length) {
    const ib = new Table({ head: ['rdma', 'port', 'state', 'rate', 'link layer', 'NUMA', 'netdevs'], style });
    for (const d of t.infiniband)
      for (const p of d.ports)
        ib.push([d.name, String(p.port), [p.state, p.physState].filter(Boolean).join(' / '), p.rate ?? '', p.linkLayer ?? '', d.numaNode == null ? '' : String(d.numaNode), (d.netdevs ?? []).join(' ')]);
    parts.push(`RDMA devices (/sys/class/infiniband):\n${ib.toString()}`);
  }
  return parts.join('\n');
}
