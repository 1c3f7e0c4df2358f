/** A host topology in one line, for reports' environment tables (the full record stays in the JSON). */
import type { HostTopology } from './schema.js';

const rate = (mbps: number): string => (mbps >= 1000 ? `${mbps / 1000} Gb/s` : `${mbps} Mb/s`);

/**
 * E.g. "data eth0 100 Gb/s · 8 GPUs: PCIe gen5 x16, NVLink 4 ×18 · mlx5_0/1 400 Gb/s ACTIVE":
 * the data interface (where known), the GPUs' distinct links, the RDMA ports.
 */
export function topologySummary(t: HostTopology | undefined): string {
  if (!t) return '';
  const parts: string[] = [];
  const data = t.nics.find((n) => n.name === t.dataInterface);
  if (data) parts.push(`data ${data.name}${data.speedMbps ? ` ${rate(data.speedMbps)}` : ''}`);
  if (t.gpus.length) {
    const links = new Set(
      t.gpus.map((g) => {
        const p = g.pcie ? `PCIe gen${g.pcie.maxGen ?? g.pcie.currentGen ?? '?'} x${g.pcie.currentWidth ?? g.pcie.maxWidth ?? '?'}` : '';
        const active = (g.nvlinks ?? []).filter((l) => l.active);
        const gens = [...new Set(active.map((l) => l.generation ?? '?'))].join('/');
        return [p, active.length ? `NVLink ${gens} ×${active.length}` : ''].filter(Boolean).join(', ');
      }),
    );
    parts.push(`${t.gpus.length} GPU${t.gpus.length === 1 ? '' : 's'}${[...links].some(Boolean) ? `: ${[...links].filter(Boolean).join('; ')}` : ''}`);
  }
  for (const d of t.infiniband) for (const p of d.ports) parts.push(`${d.name}/${p.port}${p.rateGbps ? ` ${p.rateGbps} Gb/s` : ''}${p.state ? ` ${p.state}` : ''}`);
  return parts.join(' · ');
}
